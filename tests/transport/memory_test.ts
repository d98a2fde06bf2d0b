import { MemoryTransport } from "../../src/transport/memory.ts";
import { transportConformance } from "./conformance.ts";

transportConformance("memory://", () => {
  const transport = new MemoryTransport("memory://", { defaultPartitions: 3 });
  return Promise.resolve({
    transport,
    cleanup: () => transport.stop(),
  });
});
