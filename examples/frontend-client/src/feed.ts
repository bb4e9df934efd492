// The change feed (GET /api/v1/events) as a browser follows it, losing no
// event: every connection gets a fresh ticket (a ticket works once) and
// resumes after the last event id seen. A stream that ends because its
// token expired ("end" with reason "expired") is reopened with a fresh
// access token; one whose tokens were revoked or whose account was deleted
// is not. A stream cut without "end" (a replica restarting, a network
// drop) is reopened after a growing delay, since EventSource's own
// reconnection would present the spent ticket again and stop at its 401.
import createClient from "openapi-fetch";

import type { paths } from "./api.js";

// EndReason is why the server ended a stream.
export type EndReason = "expired" | "revoked" | "deleted";

export interface FeedOptions {
  baseUrl: string;
  // accessToken resolves to an access token valid now: after an "expired"
  // end the feed asks again, so refresh it there (POST /auth/refresh).
  accessToken(): Promise<string>;
  // handlers receive each event's parsed data, by event type
  // (task.created, tag.deleted, reset, ...).
  handlers: Record<string, (data: unknown) => void>;
  // signedOut is told why the feed stopped for good: "revoked" or
  // "deleted" (sign the user out), or "unauthorized" when no fresh token
  // could be had.
  signedOut(reason: EndReason | "unauthorized"): void;
  // lastEventId resumes after an event id (or a sync cursor from GET /sync).
  lastEventId?: string;
}

// Delays between reconnection attempts after a cut: the first is the
// server's retry hint, then doubling up to the cap.
const firstDelayMs = 1000;
const maxDelayMs = 30_000;

export interface Feed {
  close(): void;
}

export function followFeed(opts: FeedOptions): Feed {
  const api = createClient<paths>({ baseUrl: opts.baseUrl });
  let lastEventId = opts.lastEventId ?? "";
  let source: EventSource | undefined;
  let closed = false;
  let delay = firstDelayMs;

  async function ticketUrl(): Promise<string | undefined> {
    const token = await opts.accessToken();
    const { data, response } = await api.POST("/api/v1/events/ticket", {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (response.status === 401) {
      return undefined;
    }
    if (!data) {
      throw new Error(`ticket: status ${response.status}`);
    }
    const url = new URL("/api/v1/events", opts.baseUrl);
    url.searchParams.set("ticket", data.ticket);
    if (lastEventId !== "") {
      url.searchParams.set("last_event_id", lastEventId);
    }
    return url.toString();
  }

  function reconnectLater(): void {
    if (closed) {
      return;
    }
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, maxDelayMs);
  }

  async function connect(): Promise<void> {
    if (closed) {
      return;
    }
    let url: string | undefined;
    try {
      url = await ticketUrl();
    } catch {
      reconnectLater(); // the API is unreachable for now
      return;
    }
    if (url === undefined) {
      closed = true;
      opts.signedOut("unauthorized");
      return;
    }
    const es = new EventSource(url);
    source = es;
    es.onopen = () => {
      delay = firstDelayMs;
    };
    for (const [type, handle] of Object.entries(opts.handlers)) {
      es.addEventListener(type, (e: MessageEvent<string>) => {
        if (e.lastEventId !== "") {
          lastEventId = e.lastEventId;
        }
        handle(JSON.parse(e.data));
      });
    }
    es.addEventListener("end", (e: MessageEvent<string>) => {
      es.close();
      const { reason } = JSON.parse(e.data) as { reason: EndReason };
      if (reason === "expired") {
        void connect(); // accessToken() refreshes
        return;
      }
      closed = true;
      opts.signedOut(reason);
    });
    es.onerror = () => {
      // Cut without "end": the browser would retry with the spent ticket.
      es.close();
      reconnectLater();
    };
  }

  void connect();
  return {
    close() {
      closed = true;
      source?.close();
    },
  };
}
