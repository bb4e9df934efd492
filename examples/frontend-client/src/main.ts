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
type Project = components["schemas"]["Project"];
type Tag = components["schemas"]["Tag"];
type Command = components["schemas"]["Command"];
type SyncPage = components["schemas"]["SyncPage"];

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

// etagOf is the If-Match value of a task or project read from a list: its
// version, quoted, as the ETag carries it.
function etagOf(item: Task | Project): string {
  return `"${item.version}"`;
}

// byPosition orders siblings (or projects) the way the server does:
// positions compared byte by byte, not by locale.
function byPosition(a: { position: string }, b: { position: string }): number {
  return a.position < b.position ? -1 : a.position > b.position ? 1 : 0;
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

// projectsAndSubtasks files tasks into a project, nests a subtask, moves
// them in the manual order, archives the project and deletes it.
async function projectsAndSubtasks(token: string): Promise<void> {
  const headers = bearer(token);
  const home = must("createProject", expect("createProject", 201, await api.POST("/api/v1/projects", {
    headers, body: { name: "Home renovation", color: "#22c55e" },
  })).data);
  const errands = must("createProject", expect("createProject", 201, await api.POST("/api/v1/projects", {
    headers, body: { name: "Errands" },
  })).data);
  const read = expect("getProject", 200, await api.GET("/api/v1/projects/{id}", { headers, params: { path: { id: home.id } } }));
  expect("getProject (not modified)", 304, await api.GET("/api/v1/projects/{id}", {
    headers, params: { path: { id: home.id }, header: { "If-None-Match": read.response.headers.get("ETag") ?? "" } },
  }));
  const renamed = must("updateProject", expect("updateProject", 200, await api.PATCH("/api/v1/projects/{id}", {
    headers, params: { path: { id: home.id }, header: { "If-Match": etagOf(home) } }, body: { name: "Kitchen" },
  })).data);
  expect("moveProject", 200, await api.POST("/api/v1/projects/{id}/move", {
    headers, params: { path: { id: errands.id } }, body: { after_id: null },
  }));
  const projects = must("listProjects", expect("listProjects", 200, await api.GET("/api/v1/projects", { headers })).data);
  if (projects.items.map((p) => p.id).join() !== [errands.id, home.id].join()) {
    throw new Error(`listProjects: ${JSON.stringify(projects.items.map((p) => p.name))}, want Errands first`);
  }

  // A task in the project, a subtask of it (in its parent's project
  // without saying so), and a second task moved in front of the first.
  const tiles = must("createTask", expect("createTask", 201, await api.POST("/api/v1/tasks", {
    headers, body: { title: "Order the tiles", project_id: home.id },
  })).data);
  const colour = must("createTask", expect("createTask", 201, await api.POST("/api/v1/tasks", {
    headers, body: { title: "Pick a colour", parent_id: tiles.id },
  })).data);
  if (colour.project_id !== home.id || colour.parent_id !== tiles.id) {
    throw new Error(`createTask (subtask): ${JSON.stringify(colour)}`);
  }
  const measure = must("createTask", expect("createTask", 201, await api.POST("/api/v1/tasks", {
    headers, body: { title: "Measure the wall", project_id: home.id },
  })).data);
  const moved = must("moveTask", expect("moveTask", 200, await api.POST("/api/v1/tasks/{id}/move", {
    headers, params: { path: { id: measure.id }, header: { "If-Match": etagOf(measure) } }, body: { after_id: null },
  })).data);
  const page = must("listTasks", expect("listTasks", 200, await api.GET("/api/v1/tasks", {
    headers, params: { query: { project_id: home.id, parent_id: "none", sort: "position" } },
  })).data);
  const order = page.items.map((task) => task.id);
  if (order.join() !== [moved.id, tiles.id].join() || order.join() !== [...page.items].sort(byPosition).map((task) => task.id).join()) {
    throw new Error(`listTasks by position: ${JSON.stringify(page.items.map((task) => task.title))}`);
  }

  // Archived, the project's tasks leave the list unless it is named.
  expect("updateProject (archive)", 200, await api.PATCH("/api/v1/projects/{id}", {
    headers, params: { path: { id: home.id }, header: { "If-Match": etagOf(renamed) } }, body: { archived: true },
  }));
  const archived = must("listProjects", expect("listProjects", 200, await api.GET("/api/v1/projects", {
    headers, params: { query: { archived: "true" } },
  })).data);
  if (archived.items.length !== 1 || archived.items[0]?.task_count !== 3) {
    throw new Error(`listProjects (archived): ${JSON.stringify(archived.items)}`);
  }
  expect("deleteProject", 204, await api.DELETE("/api/v1/projects/{id}", { headers, params: { path: { id: home.id } } }));
  expect("getTask (deleted with its project)", 404, await api.GET("/api/v1/tasks/{id}", { headers, params: { path: { id: colour.id } } }));
  expect("deleteProject", 204, await api.DELETE("/api/v1/projects/{id}", { headers, params: { path: { id: errands.id } } }));
}

// LocalCopy is what an offline client keeps: every object by id, and the
// cursor its last sync ended at.
class LocalCopy {
  cursor: string | undefined;
  tasks = new Map<string, Task>();
  tags = new Map<string, Tag>();
  projects = new Map<string, Project>();

  // apply applies a page: a full copy starts over; objects replace their
  // older states; a deletion removes its object (a project's lists its
  // tasks too; a tag's is its id alone: it leaves the tasks that carried it).
  apply(page: SyncPage): void {
    if (page.full) {
      this.tasks.clear();
      this.tags.clear();
      this.projects.clear();
    }
    page.tasks.forEach((task) => this.tasks.set(task.id, task));
    page.tags.forEach((tag) => this.tags.set(tag.id, tag));
    page.projects.forEach((project) => this.projects.set(project.id, project));
    page.deleted.tasks.forEach((id) => this.tasks.delete(id));
    page.deleted.projects.forEach((id) => this.projects.delete(id));
    for (const id of page.deleted.tags) {
      this.tags.delete(id);
      for (const task of this.tasks.values()) {
        task.tags = task.tags.filter((tag) => tag.id !== id);
      }
    }
    this.cursor = page.cursor;
  }

  // catchUp syncs from the copy's cursor until has_more is false.
  async catchUp(headers: Record<string, string>, limit: number): Promise<void> {
    for (;;) {
      const query = this.cursor === undefined ? { limit } : { cursor: this.cursor, limit };
      const page = must("sync", expect("sync", 200, await api.GET("/api/v1/sync", { headers, params: { query } })).data);
      this.apply(page);
      if (!page.has_more) {
        return;
      }
    }
  }
}

// comparable is an object as the copy and the server must agree on it: a
// project's counts are as of its last change, and a task's tags are
// compared by id (a tag renamed since is sent alone).
function comparable(object: Task | Project): string {
  const { task_count: _count, open_task_count: _open, ...rest } = object as Project;
  const fields: Record<string, unknown> = { ...rest };
  if ("tags" in object) {
    fields.tags = object.tags.map((tag) => tag.id).sort();
  }
  return JSON.stringify(fields, Object.keys(fields).sort());
}

// requireSameCopy checks the copy against GET /tasks and GET /projects.
async function requireSameCopy(headers: Record<string, string>, local: LocalCopy): Promise<void> {
  const tasks = must("listTasks", expect("listTasks", 200, await api.GET("/api/v1/tasks", {
    headers, params: { query: { limit: 100 } },
  })).data);
  const projects = must("listProjects", expect("listProjects", 200, await api.GET("/api/v1/projects", {
    headers, params: { query: { archived: "any" } },
  })).data);
  for (const [what, mine, theirs] of [
    ["tasks", local.tasks, tasks.items],
    ["projects", local.projects, projects.items],
  ] as const) {
    const ids = [...mine.keys()].sort();
    if (ids.join() !== theirs.map((item) => item.id).sort().join()) {
      throw new Error(`offline: the local copy's ${what} ${JSON.stringify(ids)}, the server's ${JSON.stringify(theirs.map((i) => i.id))}`);
    }
    for (const item of theirs) {
      const copy = mine.get(item.id);
      if (!copy || comparable(copy) !== comparable(item)) {
        throw new Error(`offline: ${item.id} is ${JSON.stringify(copy)} in the copy, ${JSON.stringify(item)} on the server`);
      }
    }
  }
}

// offlineRound works offline and catches up: it syncs a local copy, queues
// writes while "offline" (a project and two tasks in it made under
// temporary ids, one of them updated and the other deleted), sends them as
// one batch (and again, as after a lost answer: nothing is applied twice),
// then syncs and checks the copy against the server's lists.
async function offlineRound(token: string): Promise<void> {
  const headers = bearer(token);
  const local = new LocalCopy();
  await local.catchUp(headers, 2);

  const queue: Command[] = [];
  const enqueue = (command: Omit<Command, "uuid">) => queue.push({ uuid: crypto.randomUUID(), ...command });
  enqueue({ type: "project.create", temp_id: "local-trip", args: { name: "Trip to Lisbon", color: "#0ea5e9" } });
  enqueue({ type: "task.create", temp_id: "local-flights", args: { title: "Book flights", project_id: "local-trip" } });
  enqueue({ type: "task.create", temp_id: "local-hotel", args: { title: "Book a hotel", project_id: "local-trip", priority: "high" } });
  enqueue({ type: "task.update", args: { id: "local-flights", version: 1, title: "Book the flights", completed: true } });
  enqueue({ type: "task.delete", args: { id: "local-hotel" } });

  const sent = expect("runBatch", 200, await api.POST("/api/v1/batch", { headers, body: { commands: queue } }));
  const answer = must("runBatch", sent.data);
  const statuses = answer.results.map((result) => result.status).join();
  if (statuses !== "201,201,201,200,204" || Object.keys(answer.temp_ids).sort().join() !== "local-flights,local-hotel,local-trip") {
    throw new Error(`runBatch: ${JSON.stringify(answer)}`);
  }
  const flights = answer.results[3]?.body as Task | undefined;
  if (!flights || flights.id !== answer.temp_ids["local-flights"] || flights.project_id !== answer.temp_ids["local-trip"] || !flights.completed) {
    throw new Error(`runBatch: the updated task is ${JSON.stringify(flights)}`);
  }
  const resent = must("runBatch (sent again)", expect("runBatch (sent again)", 200, await api.POST("/api/v1/batch", {
    headers, body: { commands: queue },
  })).data);
  if (JSON.stringify(resent) !== JSON.stringify(answer)) {
    throw new Error(`runBatch (sent again): ${JSON.stringify(resent)}, first ${JSON.stringify(answer)}`);
  }

  await local.catchUp(headers, 2);
  if (!local.projects.has(answer.temp_ids["local-trip"] ?? "") || local.tasks.has(answer.temp_ids["local-hotel"] ?? "")) {
    throw new Error("offline: the synced copy lacks the project made offline, or keeps the task deleted offline");
  }
  await requireSameCopy(headers, local);
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
  await projectsAndSubtasks(token);
  await offlineRound(token);
  await sessions(email, password, token);
  console.log(`ok: ${calls} calls answered as the contract says`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
