/** Agents of the users package. @module */
import { app } from "../app.ts";
import { User } from "./models.ts";

/** The topic of new users. */
export const usersTopic = app.topic("proj-users", { valueType: User });

/** Names of the users seen by this worker. */
export const seenUsers: string[] = [];

app.agent(usersTopic, async function createUser(stream) {
  for await (const user of stream) {
    seenUsers.push(user.name);
    console.log(`USER CREATED -- ${user.name}`);
  }
}, { help: "Register new users." });
