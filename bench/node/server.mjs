// bench/node/server.mjs -- one Inngest function served by the official
// `inngest` npm SDK on plain Node `http`, for bench/bench_sdk.py.
//
//   node bench/node/server.mjs SDK_DIR [PORT]
//
// SDK_DIR is bench/node/v3 or bench/node/v4: the folder whose node_modules
// holds the SDK to load (npm install there first).  PORT (argv, else $PORT,
// else 0 = any free port) is bound on 127.0.0.1 only; the port actually
// bound is printed as "PORT=<n>" once the server listens.
//
// The function is the twin of Omni's test-three-steps
// (app/functions/testing.c): app id "omni", function id "test-three-steps"
// (composite "omni-test-three-steps"), triggered by omni/test.three-steps,
// three run steps "first", "second", "third" that each return their own
// name, then {"steps": [...]}.
//
// Everything else comes from the environment, read by the SDK itself, as
// a deployment would set it: INNGEST_SIGNING_KEY, INNGEST_EVENT_KEY,
// INNGEST_DEV=0 (cloud mode: every call's signature is verified),
// INNGEST_BASE_URL and INNGEST_SERVE_ORIGIN.  The request handler is the
// SDK's own adapter for Node's http module (`inngest/node` serve).
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { createRequire } from "node:module";

const sdkDir = path.resolve(process.argv[2] || "");
const port = Number(process.argv[3] ?? process.env.PORT ?? 0);
if (!process.argv[2] || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node server.mjs SDK_DIR [PORT]");
  process.exit(2);
}
if (!process.env.INNGEST_SIGNING_KEY) {
  console.error("server.mjs: INNGEST_SIGNING_KEY is not set");
  process.exit(2);
}

// Resolve the SDK from SDK_DIR's node_modules, through its package exports.
const requireSdk = createRequire(path.join(sdkDir, "package.json"));
// (package.json is not among the package's exports: read it as a file.)
const { version } = JSON.parse(fs.readFileSync(
  path.join(sdkDir, "node_modules", "inngest", "package.json"), "utf8"));
const { Inngest } = requireSdk("inngest");
const { serve } = requireSdk("inngest/node");
const major = Number(version.split(".")[0]);

const inngest = new Inngest({ id: "omni" });

const trigger = { event: "omni/test.three-steps" };
async function threeSteps({ step }) {
  const first = await step.run("first", () => "first");
  const second = await step.run("second", () => "second");
  const third = await step.run("third", () => "third");
  return { steps: [first, second, third] };
}

// 3.x: createFunction(options, trigger, handler); 4.x moved the triggers
// into the options.
const fn = major >= 4
  ? inngest.createFunction({ id: "test-three-steps", triggers: [trigger] },
    threeSteps)
  : inngest.createFunction({ id: "test-three-steps" }, trigger, threeSteps);

const handler = serve({ client: inngest, functions: [fn] });

// Only /api/inngest is the SDK's; anything else is a plain 404.
const server = http.createServer((req, res) => {
  if (req.url === "/api/inngest" || req.url.startsWith("/api/inngest?")) {
    return handler(req, res);
  }
  res.writeHead(404, { "Content-Type": "application/json" });
  res.end('{"message":"not found"}');
});

server.listen(port, "127.0.0.1", () => {
  console.log(`PORT=${server.address().port}`);
  console.log(`inngest ${version} on node ${process.version}, ` +
    `pid ${process.pid}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
