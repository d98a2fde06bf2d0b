/**
 * A service started and stopped with the app (the guide's
 * `examples/service.py`).
 *
 *   deno run -A examples/service.ts worker -l info
 *
 * @module
 */
import { App, Service } from "../mod.ts";

export const app = new App("service-example");

class MyService extends Service {
  override async onStart(): Promise<void> {
    console.log("MYSERVICE IS STARTING");
  }

  override async onStop(): Promise<void> {
    console.log("MYSERVICE IS STOPPING");
  }

  @Service.task
  async backgroundTask(): Promise<void> {
    while (!this.shouldStop) {
      console.log("BACKGROUND TASK WAKE UP");
      await this.sleep(1.0);
    }
  }
}

app.service(new MyService());

if (import.meta.main) await app.main();
