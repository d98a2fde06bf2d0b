/** Web views of the users package. @module */
import { app } from "../app.ts";
import { seenUsers } from "./agents.ts";

app.page("/users/", (c) => c.json({ users: seenUsers }));
