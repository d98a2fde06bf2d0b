/** Models of the orders package. @module */
import { z } from "zod";
import { type Infer, Record } from "../../../mod.ts";

/** An order. */
export const Order = Record("Order", {
  id: z.string(),
  user: z.string(),
  amount: z.number(),
});
/** An order. */
export type Order = Infer<typeof Order>;
