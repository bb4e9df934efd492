// The example frontend client: every operation of the TaskFlow API, called
// the way a frontend would, through openapi-fetch with the types that
// openapi-typescript generates from docs/openapi.json with its defaults.
// It compiles only if ordinary calls type-check, and, run against a live
// server (TASKFLOW_URL, default http://127.0.0.1:8000, in development so
// the docs are served), it fails on the first answer that is not the one
// the contract gives.
import createClient from "openapi-fetch";

import type { components, paths } from "./api.js";

type Task = components["schemas"]["Task"];

// The little of Node's process this program uses (without pulling in all
// of Node's type definitions).
declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

const baseUrl = process.env.TASKFLOW_URL ?? "http://127.0.0.1:8000";
const api = createClient<paths>({ baseUrl });

let calls = 0;

// expect checks that a call answered status; it returns the call's data.
function expect<T extends { response: Response }>(what: string, status: number, result: T): T {
  calls++;
  if (result.response.status !== status) {
    throw new Error(`${what}: status ${result.response.status}, want ${status}`);
  }
  return result;
}

function must<T>(what: string, value: T | undefined): T {
  if (value === undefined) {
    throw new Error(`${what}: no body`);
  }
  return value;
}

function bearer(token: string) {
  return { Authorization: `Bearer ${token}` };
}

// etagOf is the If-Match value of a task read from a list: its version,
// quoted, as the ETag carries it.
function etagOf(task: Task): string {
  return `"${task.version}"`;
}

// untilRefused polls until token is a 401 on the task list: revocations
// reach every replica within a second.
async function untilRefused(token: string): Promise<void> {
  const deadline = Date.now() + 1500;
  for (;;) {
    const { response } = await api.GET("/api/v1/tasks", { headers: bearer(token) });
    if (response.status === 401) {
      calls++;
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`a revoked token still gets ${response.status} on the task list`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function service(): Promise<void> {
  const info = must("getApiInfo", expect("getApiInfo", 200, await api.GET("/")).data);
  console.log(`${info.name} ${info.version} (${info.environment})`);
  expect("getHealth", 200, await api.GET("/health"));
  expect("getLiveness", 200, await api.GET("/health/live"));
  expect("getOpenAPI", 200, await api.GET("/openapi.json"));
  expect("getSwaggerUI", 200, await api.GET("/docs", { parseAs: "text" }));
  expect("getRedoc", 200, await api.GET("/redoc", { parseAs: "text" }));
  expect("getDocsAsset", 200, await api.GET("/docs/assets/{file}", { params: { path: { file: "docs.css" } }, parseAs: "text" }));
}

async function accounts(email: string, password: string): Promise<string> {
  const registered = must("register", expect("register", 201, await api.POST("/api/v1/auth/register", {
    body: { email, password, name: "Ada" },
  })).data);
  const session = must("login", expect("login", 200, await api.POST("/api/v1/auth/login", {
    body: { email, password },
  })).data);
  const refreshed = must("refreshTokens", expect("refreshTokens", 200, await api.POST("/api/v1/auth/refresh", {
    body: { refresh_token: session.refresh_token },
  })).data);
  expect("logout", 204, await api.POST("/api/v1/auth/logout", { body: { refresh_token: registered.refresh_token } }));
  const me = must("getMe", expect("getMe", 200, await api.GET("/api/v1/auth/me", { headers: bearer(refreshed.access_token) })).data);
  if (me.provider !== "local" || me.email !== email) {
    throw new Error(`getMe: ${JSON.stringify(me)}`);
  }
  const renamed = must("updateMe", expect("updateMe", 200, await api.PATCH("/api/v1/auth/me", {
    headers: bearer(refreshed.access_token),
    body: { name: "Ada King" },
  })).data);
  if (renamed.name !== "Ada King") {
    throw new Error(`updateMe: ${JSON.stringify(renamed)}`);
  }
  return refreshed.access_token;
}

async function tasksAndTags(token: string): Promise<void> {
  const headers = bearer(token);
  const tag = must("createTag", expect("createTag", 201, await api.POST("/api/v1/tags", {
    headers, body: { name: "work", color: "#1a2b3c" },
  })).data);
  expect("listTags", 200, await api.GET("/api/v1/tags", { headers }));
  expect("getTag", 200, await api.GET("/api/v1/tags/{id}", { headers, params: { path: { id: tag.id } } }));
  expect("updateTag", 200, await api.PATCH("/api/v1/tags/{id}", {
    headers, params: { path: { id: tag.id } }, body: { name: "office" },
  }));

  // An ordinary create: only the title and what the form filled in.
  const created = must("createTask", expect("createTask", 201, await api.POST("/api/v1/tasks", {
    headers, body: { title: "Write the report", tag_ids: [tag.id] },
  })).data);
  const page = must("listTasks", expect("listTasks", 200, await api.GET("/api/v1/tasks", {
    headers, params: { query: { sort: "-updated_at", due: "none", limit: 10 } },
  })).data);
  const listed = page.items.find((task) => task.id === created.id);
  if (!listed) {
    throw new Error("listTasks: the new task is not listed");
  }
  const read = expect("getTask", 200, await api.GET("/api/v1/tasks/{id}", { headers, params: { path: { id: created.id } } }));
  const etag = read.response.headers.get("ETag") ?? "";
  expect("getTask (not modified)", 304, await api.GET("/api/v1/tasks/{id}", {
    headers, params: { path: { id: created.id }, header: { "If-None-Match": etag } },
  }));

  // If-Match from the list's version, without a GET first.
  const replaced = must("replaceTask", expect("replaceTask", 200, await api.PUT("/api/v1/tasks/{id}", {
    headers, params: { path: { id: created.id }, header: { "If-Match": etagOf(listed) } },
    body: { title: "Write the quarterly report", priority: "high" },
  })).data);
  expect("updateTask", 200, await api.PATCH("/api/v1/tasks/{id}", {
    headers, params: { path: { id: created.id }, header: { "If-Match": etagOf(replaced) } },
    body: { completed: true },
  }));
  expect("updateTask (stale)", 412, await api.PATCH("/api/v1/tasks/{id}", {
    headers, params: { path: { id: created.id }, header: { "If-Match": etagOf(replaced) } },
    body: { completed: false },
  }));
  expect("deleteTask", 204, await api.DELETE("/api/v1/tasks/{id}", { headers, params: { path: { id: created.id } } }));
  expect("deleteTag", 204, await api.DELETE("/api/v1/tags/{id}", { headers, params: { path: { id: tag.id } } }));
}

async function sessions(email: string, password: string, token: string): Promise<void> {
  const newPassword = `${password} changed`;
  expect("changePassword", 204, await api.POST("/api/v1/auth/password", {
    headers: bearer(token), body: { current_password: password, new_password: newPassword },
  }));
  await untilRefused(token);
  const again = must("login", expect("login", 200, await api.POST("/api/v1/auth/login", {
    body: { email, password: newPassword },
  })).data);
  expect("logoutAll", 204, await api.POST("/api/v1/auth/logout-all", { headers: bearer(again.access_token) }));
  await untilRefused(again.access_token);
  const last = must("login", expect("login", 200, await api.POST("/api/v1/auth/login", {
    body: { email, password: newPassword },
  })).data);
  expect("deleteMe", 204, await api.DELETE("/api/v1/auth/me", { headers: bearer(last.access_token) }));
  await untilRefused(last.access_token);
  expect("createTask (deleted account)", 401, await api.POST("/api/v1/tasks", {
    headers: bearer(last.access_token), body: { title: "never stored" },
  }));
}

async function main(): Promise<void> {
  const email = `frontend-${Date.now()}@example.com`;
  const password = "correct horse battery";
  await service();
  const token = await accounts(email, password);
  await tasksAndTags(token);
  await sessions(email, password, token);
  console.log(`ok: ${calls} calls answered as the contract says`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
