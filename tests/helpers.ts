// The public test helpers, under the names the core tests use.
export { testApp as memApp, waitFor } from "../testing.ts";
