// A real Better Auth server for end-to-end tests.
//
// Starts Better Auth (email + password, `jwt` plugin, `bearer` plugin) on a
// fresh SQLite database in a temporary directory, listens on 127.0.0.1 and
// prints exactly one line to stdout once it accepts requests:
//
//   READY http://127.0.0.1:<port>
//
// Everything else (Better Auth's own log lines, errors) goes to stderr.
// SIGTERM / SIGINT close the server, delete the database and exit 0.
//
// Environment:
//   PORT                 port to listen on; 0 or unset = any free port
//   BETTER_AUTH_SECRET   Better Auth secret (default: a fixed test secret)
//   JWT_ALG              EdDSA (default), ES256, ES512, RS256 or PS256
//   JWT_EXPIRATION       lifetime of tokens from /api/auth/token (default "15m")
//   JWT_ISSUER           "iss" claim (default: the base URL)
//   JWT_AUDIENCE         "aud" claim (default: the base URL)
//   LOG_LEVEL            Better Auth log level on stderr (default "warn")

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Make sure nothing tries to report usage anywhere.
process.env.BETTER_AUTH_TELEMETRY = "0";

const { betterAuth } = await import("better-auth");
const { bearer, jwt } = await import("better-auth/plugins");
const { toNodeHandler } = await import("better-auth/node");
const { getMigrations } = await import("better-auth/db/migration");
const { default: Database } = await import("better-sqlite3");

const DEFAULT_SECRET = "taskflow-e2e-better-auth-secret-0123456789abcdef";
const SUPPORTED_ALGS = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];

function fail(message) {
  process.stderr.write(`betterauth fixture: ${message}\n`);
  process.exit(1);
}

const port = Number.parseInt(process.env.PORT ?? "0", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`invalid PORT ${JSON.stringify(process.env.PORT)}`);
}
const secret = process.env.BETTER_AUTH_SECRET || DEFAULT_SECRET;
const alg = process.env.JWT_ALG || "EdDSA";
if (!SUPPORTED_ALGS.includes(alg)) {
  fail(`unsupported JWT_ALG ${JSON.stringify(alg)}; use one of ${SUPPORTED_ALGS.join(", ")}`);
}
const expirationTime = process.env.JWT_EXPIRATION || "15m";
const logLevel = process.env.LOG_LEVEL || "warn";

const dir = mkdtempSync(join(tmpdir(), "taskflow-betterauth-"));
const db = new Database(join(dir, "auth.db"));
db.pragma("journal_mode = WAL");

let handler = null;
const server = createServer((req, res) => {
  if (handler && req.url && req.url.startsWith("/api/auth/")) {
    handler(req, res);
    return;
  }
  res.statusCode = handler ? 404 : 503;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ error: handler ? "not found" : "starting" }));
});

function cleanup() {
  try {
    db.close();
  } catch {
    // already closed
  }
  rmSync(dir, { recursive: true, force: true });
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => {
    cleanup();
    process.exit(0);
  });
  server.closeAllConnections();
  // Do not hang on a stuck connection.
  setTimeout(() => {
    cleanup();
    process.exit(0);
  }, 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

try {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });

  const baseURL = `http://127.0.0.1:${server.address().port}`;

  const options = {
    appName: "TaskFlow e2e",
    baseURL,
    basePath: "/api/auth",
    secret,
    database: db,
    trustedOrigins: [baseURL],
    emailAndPassword: { enabled: true },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: {
      level: logLevel,
      log: (level, message, ...args) => {
        console.error(`[better-auth ${level}] ${message}`, ...args);
      },
    },
    plugins: [
      jwt({
        jwks: { keyPairConfig: { alg } },
        jwt: {
          expirationTime,
          ...(process.env.JWT_ISSUER ? { issuer: process.env.JWT_ISSUER } : {}),
          ...(process.env.JWT_AUDIENCE ? { audience: process.env.JWT_AUDIENCE } : {}),
        },
      }),
      bearer(),
    ],
  };

  const { runMigrations } = await getMigrations(options);
  await runMigrations();

  const auth = betterAuth(options);
  handler = toNodeHandler(auth);

  process.stdout.write(`READY ${baseURL}\n`);
} catch (err) {
  cleanup();
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
}
