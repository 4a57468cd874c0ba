package main

import (
	"encoding/json"

	"google.golang.org/protobuf/types/known/structpb"
)

// benchData is the signal data of the latency and fan-out cases, the same for every system.
type benchData struct {
	AgentID         string  `json:"agent_id"`
	ResultSummary   string  `json:"result_summary"`
	QualityScore    float64 `json:"quality_score"`
	ExecutionTimeMs float64 `json:"execution_time_ms"`
	Success         bool    `json:"success"`
}

var payload = benchData{AgentID: "model-generator", ResultSummary: "Generated 5 Pydantic models", QualityScore: 0.95, ExecutionTimeMs: 1234.5, Success: true}

// signalData is the payload as Consort carries it: a Struct in the signal's data field.
func signalData() *structpb.Struct {
	data, err := structpb.NewStruct(map[string]any{"agent_id": payload.AgentID, "result_summary": payload.ResultSummary,
		"quality_score": payload.QualityScore, "execution_time_ms": payload.ExecutionTimeMs, "success": payload.Success})
	if err != nil {
		panic(err)
	}
	return data
}

// payloadJSON is the payload as NATS and Redis carry it: its JSON bytes as the message body (one field for Redis).
func payloadJSON() []byte {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return b
}
