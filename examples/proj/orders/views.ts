/** Web views of the orders package. @module */
import { app } from "../app.ts";
import { totals } from "./agents.ts";

app.page("/orders/", (c) => c.json(Object.fromEntries(totals)));
