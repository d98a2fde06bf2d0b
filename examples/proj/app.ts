/**
 * The app of the guide's "medium project" layout. Autodiscovery imports
 * every module under this folder (users/, orders/) when the CLI or a
 * worker starts, so their agents, commands and pages register.
 *
 * @module
 */
import { App } from "../../mod.ts";

export const app = new App("proj", {
  version: 1,
  autodiscover: true, // or a list: ["./users", "./orders"]
  origin: import.meta.url, // the folder autodiscovery walks
});
