/** Agents of the orders package. @module */
import { app } from "../app.ts";
import { Order } from "./models.ts";

/** The topic of orders. */
export const ordersTopic = app.topic("proj-orders", { valueType: Order });

/** Total order amount per user, as seen by this worker. */
export const totals = new Map<string, number>();

app.agent(ordersTopic, async function processOrder(stream) {
  for await (const order of stream) {
    totals.set(order.user, (totals.get(order.user) ?? 0) + order.amount);
    console.log(`ORDER ${order.id} -- ${order.user} ${order.amount}`);
  }
}, { help: "Total orders per user." });
