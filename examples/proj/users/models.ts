/** Models of the users package. @module */
import { z } from "zod";
import { type Infer, Record } from "../../../mod.ts";

/** A user account. */
export const User = Record("User", {
  name: z.string(),
  email: z.string().optional(),
});
/** A user account. */
export type User = Infer<typeof User>;
