// A stand-in for the frontend: it calls the TaskFlow API on another origin
// with fetch and a bearer token, and records in window.observed what the
// browser let it see, for the end-to-end test to read.
//
// The page's URL fragment says what to do:
//   #api=<API base URL>&token=<bearer token>&scenario=crud|blocked|feed|feedRenews|feedBlocked
//   (feedRenews also takes &refresh=<refresh token>&want=<events to wait for>)
"use strict";

const params = new URLSearchParams(location.hash.slice(1));
const api = params.get("api");
const token = params.get("token");
const scenario = params.get("scenario");

window.observed = { scenario, done: false, error: null, steps: {}, streamOpen: false, event: null };

function call(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(api + path, init);
}

// record keeps what JavaScript can read of a response: the status, the
// headers the server exposes (null for any it does not) and the JSON body.
async function record(name, response) {
  const text = await response.text();
  let body = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = { unparsed: text };
  }
  const step = {
    status: response.status,
    contentType: response.headers.get("Content-Type"),
    etag: response.headers.get("ETag"),
    location: response.headers.get("Location"),
    requestId: response.headers.get("X-Request-ID"),
    body,
  };
  window.observed.steps[name] = step;
  return step;
}

// attempt records whether the browser let the call through at all.
async function attempt(name, send) {
  try {
    const response = await send();
    window.observed.steps[name] = { rejected: false, status: response.status };
  } catch (err) {
    window.observed.steps[name] = { rejected: true, errorName: err.name, message: String(err.message) };
  }
}

// crud is the frontend's everyday round trip. The PATCH and DELETE carry
// If-Match, so the browser sends a preflight first.
async function crud() {
  const created = await record("create", await call("POST", "/api/v1/tasks", {
    body: { title: "Written from the browser", priority: "high" },
  }));
  const id = created.body.id;
  await record("list", await call("GET", "/api/v1/tasks"));
  const patched = await record("patch", await call("PATCH", `/api/v1/tasks/${id}`, {
    body: { completed: true },
    headers: { "If-Match": created.etag },
  }));
  await record("stalePatch", await call("PATCH", `/api/v1/tasks/${id}`, {
    body: { title: "A lost update" },
    headers: { "If-Match": created.etag },
  }));
  await record("delete", await call("DELETE", `/api/v1/tasks/${id}`, {
    headers: { "If-Match": patched.etag },
  }));
  await record("afterDelete", await call("GET", `/api/v1/tasks/${id}`));
}

// blocked runs from an origin the API does not list.
async function blocked() {
  // A simple request (no preflight): the browser sends it, the server
  // answers, and the browser hides the answer from the page.
  await attempt("simpleGet", () => fetch(api + "/health/live"));
  // Authorization and a JSON body make the browser ask first; the refused
  // preflight means the POST itself is never sent.
  await attempt("create", () => call("POST", "/api/v1/tasks", {
    body: { title: "Sent from an unlisted origin" },
  }));
}

// feed follows the change feed as the frontend does: EventSource cannot
// send a bearer token, so the page first trades it for a ticket. It sets
// observed.streamOpen once the stream is open, so the test knows when a
// write will be seen, and records the first task.created event.
async function feed() {
  const ticket = await record("ticket", await call("POST", "/api/v1/events/ticket"));
  if (ticket.status !== 201) {
    throw new Error(`ticket: status ${ticket.status}`);
  }
  const source = new EventSource(`${api}/api/v1/events?ticket=${encodeURIComponent(ticket.body.ticket)}`);
  try {
    window.observed.event = await new Promise((resolve, reject) => {
      source.addEventListener("open", () => { window.observed.streamOpen = true; });
      source.addEventListener("task.created", (e) => {
        resolve({ type: e.type, lastEventId: e.lastEventId, data: e.data });
      });
      // A ticket is single-use, so a reconnect is refused and the browser
      // gives up: the stream is closed for good.
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) {
          reject(new Error("the event stream closed"));
        }
      });
    });
  } finally {
    source.close();
  }
}

// feedRenews follows the change feed as a frontend that must never miss
// an event does: each connection takes a fresh ticket and resumes after
// the last id seen (?last_event_id=). When the server ends the stream
// because the token expired ("end" with reason "expired") it refreshes the
// token first; when the connection is cut (a replica restarting) it
// reconnects after the server's retry hint, then backs off. It finishes
// once it has seen #want task.created events, recording every event id,
// every end's reason and how many streams it opened.
async function feedRenews() {
  let access = token;
  let refreshToken = params.get("refresh");
  const want = Number(params.get("want"));
  const seen = { events: [], ends: [], opens: 0, cuts: 0 };
  window.observed.renewals = seen;
  let lastEventId = "";
  let delay = 1000;

  async function refresh() {
    const r = await fetch(`${api}/api/v1/auth/refresh`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    if (r.status !== 200) {
      throw new Error(`refresh: status ${r.status}`);
    }
    const pair = await r.json();
    access = pair.access_token;
    refreshToken = pair.refresh_token;
  }

  async function ticket() {
    let r = await fetch(`${api}/api/v1/events/ticket`, { method: "POST", headers: { Authorization: `Bearer ${access}` } });
    if (r.status === 401) {
      await refresh();
      r = await fetch(`${api}/api/v1/events/ticket`, { method: "POST", headers: { Authorization: `Bearer ${access}` } });
    }
    if (r.status !== 201) {
      throw new Error(`ticket: status ${r.status}`);
    }
    return (await r.json()).ticket;
  }

  await new Promise((resolve, reject) => {
    const connect = async () => {
      let t;
      try {
        t = await ticket();
      } catch (e) {
        if (e instanceof TypeError) { // the API is unreachable for now
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 30000);
          return;
        }
        reject(e);
        return;
      }
      const resume = lastEventId === "" ? "" : `&last_event_id=${encodeURIComponent(lastEventId)}`;
      const source = new EventSource(`${api}/api/v1/events?ticket=${encodeURIComponent(t)}${resume}`);
      source.addEventListener("open", () => {
        seen.opens++;
        delay = 1000;
        window.observed.streamOpen = true;
      });
      source.addEventListener("task.created", (e) => {
        lastEventId = e.lastEventId;
        seen.events.push(Number(e.lastEventId));
        if (seen.events.length >= want) {
          source.close();
          resolve();
        }
      });
      source.addEventListener("end", (e) => {
        source.close();
        const { reason } = JSON.parse(e.data);
        seen.ends.push(reason);
        if (reason !== "expired") {
          reject(new Error(`the stream ended: ${reason}`));
          return;
        }
        refresh().then(connect, reject);
      });
      source.addEventListener("error", () => {
        // Cut without "end": the browser would reconnect with the spent
        // ticket and give up at its 401, so take a fresh one.
        source.close();
        seen.cuts++;
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      });
    };
    connect();
  });
}

// feedBlocked asks for a ticket from an origin the API does not list: the
// bearer token makes the browser send a preflight, which is refused.
async function feedBlocked() {
  await attempt("ticket", () => call("POST", "/api/v1/events/ticket"));
}

(async () => {
  try {
    if (scenario === "crud") {
      await crud();
    } else if (scenario === "blocked") {
      await blocked();
    } else if (scenario === "feed") {
      await feed();
    } else if (scenario === "feedRenews") {
      await feedRenews();
    } else if (scenario === "feedBlocked") {
      await feedBlocked();
    } else {
      throw new Error(`unknown scenario ${scenario}`);
    }
  } catch (err) {
    window.observed.error = `${err.name}: ${err.message}`;
  } finally {
    window.observed.done = true;
  }
})();
