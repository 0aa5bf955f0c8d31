/**
 * The one place that talks to the Rust side: every Tauri command and event, typed with the
 * generated bindings. Nothing else in the UI calls `invoke` or `listen`.
 */
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { CommandError } from "./bindings/CommandError";
import { commandFunctions, type Call, type CommandName, type Events, type EventName } from "./bindings/ipc";

// The command and event maps are generated from the IPC table in crates/app (bindings/ipc.ts).
export type { Commands, CommandName, Events, EventName } from "./bindings/ipc";

function isCommandError(value: unknown): value is CommandError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as CommandError).message === "string" &&
    typeof (value as CommandError).next_step === "string"
  );
}

/** Turns whatever a failed call threw into a `CommandError` (the backend always sends one). */
export function toCommandError(error: unknown): CommandError {
  if (isCommandError(error)) return error;
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error);
  return {
    message: message || "Unknown error",
    next_step: "Try again; if it keeps failing, export the logs (Logs screen) and report the problem.",
  };
}

/** An `Error` carrying the backend's `CommandError`. */
export class ApiError extends Error {
  readonly nextStep: string;
  readonly command: CommandName;
  constructor(command: CommandName, error: CommandError) {
    super(error.message);
    this.name = "ApiError";
    this.nextStep = error.next_step;
    this.command = command;
  }
  get commandError(): CommandError {
    return { message: this.message, next_step: this.nextStep };
  }
}

const call: Call = async (command, ...request) => {
  try {
    const args = request.length > 0 ? { request: request[0] } : undefined;
    return await invoke(command, args);
  } catch (error) {
    throw new ApiError(command, toCommandError(error));
  }
};

/** Converts an `ApiError` (or anything thrown) into message + next step for display. */
export function errorOf(error: unknown): CommandError {
  if (error instanceof ApiError) return error.commandError;
  return toCommandError(error);
}

/** One function per command, in camelCase (`api.buyXmr(request)`). */
export const api = commandFunctions(call);
export type Api = typeof api;

/** Subscribes to one event; resolves to the function that unsubscribes. */
export function on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): Promise<UnlistenFn> {
  return listen<Events[E]>(event, (e) => handler(e.payload));
}

/**
 * Subscribes for the lifetime of a React effect: returns a cleanup that also works when
 * the effect ends before `listen` resolved.
 */
export function subscribe<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
  let unlisten: UnlistenFn | undefined;
  let done = false;
  on(event, handler)
    .then((fn) => {
      if (done) void fn();
      else unlisten = fn;
    })
    .catch(() => {
      /* no backend (e.g. opened in a plain browser): nothing to listen to */
    });
  return () => {
    done = true;
    if (unlisten) void unlisten();
  };
}
