// Writes the README's table of settings from lib/settings.ts, between its
// `<!-- settings:start -->` and `<!-- settings:end -->` markers: bun scripts/settings-table.ts
import { readFileSync, writeFileSync } from "node:fs";
import { settingsTable } from "../lib/settings.ts";

const file = new URL("../README.md", import.meta.url);
const readme = readFileSync(file, "utf8");
const start = readme.indexOf("<!-- settings:start -->");
const end = readme.indexOf("<!-- settings:end -->");
if (start === -1 || end === -1)
  throw new Error("README.md has no <!-- settings:start --> … <!-- settings:end --> markers");
const head = readme.slice(0, start + "<!-- settings:start -->".length);
writeFileSync(file, `${head}\n\n${settingsTable()}\n\n${readme.slice(end)}`);
console.log("README.md: settings table written");
