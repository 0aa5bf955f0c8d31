/** Bundled (IIFE) and injected by the screen test before the app loads. */
import { FakeBackend } from "./backend";

new FakeBackend(window.__FAKE_CONFIG__ ?? {}).install(window);
