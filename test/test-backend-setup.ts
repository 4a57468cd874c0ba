import { afterAll } from "vitest";
import { stopLeftoverTestBackends } from "./test-backend.js";

// Runs after each test file (a vitest setup file): no throwaway nats-server of CONSORT_TEST_BACKEND=nats outlives
// the file that started it, even when a test failed before closing its Consort server. Nothing to do in memory.
afterAll(stopLeftoverTestBackends);
