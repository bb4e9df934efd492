// Mints an HS256 JWT signed with a shared secret, the way a frontend that
// shares BETTER_AUTH_SECRET with the API would, and prints it on stdout.
//
// usage: node mint.mjs --secret S --sub USERID [--exp-seconds N] [--iss X]
//                      [--aud Y] [--email E] [--name N]
//
//   --secret       HMAC key (UTF-8 bytes of the string); falls back to env
//                  BETTER_AUTH_SECRET when omitted
//   --sub          "sub" claim (the user id)
//   --exp-seconds  lifetime in seconds from now (default 900); 0 or a
//                  negative number gives a token that is already expired
//   --iss, --aud   optional "iss" / "aud" claims
//   --email        optional "email" claim
//   --name         optional "name" claim
//
// The header is {"alg":"HS256","typ":"JWT"}; the payload always has sub, iat
// and exp.

import { SignJWT } from "jose";

function usage(message) {
  if (message) process.stderr.write(`mint: ${message}\n`);
  process.stderr.write(
    "usage: node mint.mjs --secret S --sub USERID [--exp-seconds N] [--iss X] [--aud Y] [--email E] [--name N]\n",
  );
  process.exit(2);
}

// Hand-rolled so that "--exp-seconds -60" works (node:util parseArgs would
// take "-60" for an option). Accepts "--flag value" and "--flag=value".
const FLAGS = new Set(["secret", "sub", "exp-seconds", "iss", "aud", "email", "name"]);
const values = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === "-h" || arg === "--help") usage();
  if (!arg.startsWith("--")) usage(`unexpected argument ${JSON.stringify(arg)}`);
  const eq = arg.indexOf("=");
  const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
  if (!FLAGS.has(name)) usage(`unknown option --${name}`);
  let value;
  if (eq !== -1) {
    value = arg.slice(eq + 1);
  } else {
    if (i + 1 >= argv.length) usage(`--${name} needs a value`);
    value = argv[++i];
  }
  values[name] = value;
}

const secret = values.secret ?? process.env.BETTER_AUTH_SECRET;
if (!secret) usage("--secret is required");
if (!values.sub) usage("--sub is required");

const rawExp = values["exp-seconds"];
const expSeconds = rawExp === undefined ? 900 : rawExp.trim() === "" ? Number.NaN : Number(rawExp);
if (!Number.isInteger(expSeconds)) usage(`--exp-seconds must be an integer, got ${JSON.stringify(rawExp)}`);

const now = Math.floor(Date.now() / 1000);
const claims = {};
if (values.email !== undefined) claims.email = values.email;
if (values.name !== undefined) claims.name = values.name;

const builder = new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setSubject(values.sub)
  .setIssuedAt(now)
  .setExpirationTime(now + expSeconds);
if (values.iss !== undefined) builder.setIssuer(values.iss);
if (values.aud !== undefined) builder.setAudience(values.aud);

const token = await builder.sign(new TextEncoder().encode(secret));
process.stdout.write(`${token}\n`);
