/**
 * What every example agent prints, in order, in every language: the examples of examples/{python,go,ts} share
 * their scenarios, roles and lines. Lines of different agents interleave differently from run to run, so only the
 * order within each agent is fixed. An optional line is printed or not depending on which process started first
 * (an agent watching before its context is distributed first receives `absent`).
 */
export type Line = string | { readonly optional: string };

const ABSENT: Line = { optional: "No context yet, watching for it..." };

export const scenarioOrder = ["complete", "chain", "parallel", "gate", "progress"] as const;

export const expected: Readonly<Record<string, Readonly<Record<string, readonly Line[]>>>> = {
  // The seed's "Complete Example"; its Output lines are those of model_gen and validator_gen.
  complete: {
    coordinator: [
      "Distributing context to model_gen and validator_gen",
      "Waiting for model_gen and validator_gen to complete",
      "Workflow complete",
      "Cleanup: contexts, dependencies, signals and routing policy cleared",
    ],
    model_gen: [
      "Waiting for context...",
      ABSENT,
      "Context v1: Generate models; tasks parse_contract, generate_models; depends on nothing",
      "Starting model_gen...",
      "parse_contract: done",
      "generate_models: done",
      "model_gen completed",
    ],
    validator_gen: [
      "Waiting for context...",
      ABSENT,
      "Context v1: Generate validators; tasks generate_validators; depends on model_gen",
      "Starting validator_gen (waiting for dependencies)...",
      "Dependencies resolved, starting validator_gen",
      "generate_validators: done",
      "Next step: continue with generate_tests (Conditional rule 'Quality met' matched: quality_score >= 0.9)",
      "validator_gen completed",
    ],
  },
  // Common pattern 1: signal-driven workflow.
  chain: {
    "model-gen": ["Starting model-gen...", "model-gen completed"],
    "validator-gen": [
      "Subscribed, waiting for model-gen",
      "model-gen completed with quality 0.95, starting validator-gen",
      "validator-gen completed",
    ],
    "test-gen": [
      "Subscribed, waiting for validator-gen",
      "validator-gen completed with quality 0.92, starting test-gen",
      "test-gen completed",
      "Chain finished: signals cleared",
    ],
  },
  // Common pattern 2: parallel execution.
  parallel: {
    coordinator: [
      "Distributing context to contract_1, contract_2 and contract_3",
      "Waiting for contract_1, contract_2 and contract_3",
      "All 3 contracts processed",
      "Cleanup: contexts, dependencies and signals cleared",
    ],
    ...Object.fromEntries([1, 2, 3].map((n) => [`contract_${n}`, [
      "Waiting for context...",
      ABSENT,
      `Context v1: Process contract ${n}; tasks process_contract; depends on nothing`,
      `Starting contract_${n}...`,
      `process_contract ./contract_${n}.yaml: done`,
      `contract_${n} completed`,
    ]])),
  },
  // Common pattern 3: quality gate dependency.
  gate: {
    "test-gen": [
      "Waiting for quality gate coverage_gate (threshold 0.80)...",
      "Quality gate passed, starting test-gen",
      "test-gen completed",
      "Cleanup: dependencies and signals cleared",
    ],
    coverage: ["Measuring coverage...", "coverage_gate score 0.85 recorded"],
  },
  // A high-rate publisher: progress over PublishStream (at most 32 unacknowledged), the completion over Publish.
  progress: {
    worker: [
      "Streaming 500 progress signals over PublishStream (at most 32 unacknowledged)...",
      "500 progress signals acknowledged, the last at sequence 500",
      "worker completed",
    ],
    monitor: [
      "Subscribed, following worker's progress",
      "Received 500 progress signals in order, then worker's completion",
      "Cleanup: signals cleared",
    ],
  },
};
