/** Commands of the users package. @module */
import { app } from "../app.ts";
import { usersTopic } from "./agents.ts";

app.command("create-user", async ({ args, options }) => {
  await app.startClient();
  try {
    const email = options.email as string | undefined;
    const md = await usersTopic.send({
      value: { name: args[0]!, ...(email ? { email } : {}) },
    });
    console.log(
      `SENT USER ${args[0]} to ${md.topic}[${md.partition}]@${md.offset}`,
    );
  } finally {
    await app.stop();
  }
}, {
  description: "Create a user",
  arguments: ["<name>"],
  options: [{ flags: "-e, --email <email>", description: "E-mail address" }],
});
