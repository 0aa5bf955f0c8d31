import { render } from "@testing-library/react";
import type { ReactElement, ReactNode } from "react";
import { Providers } from "../../src/Providers";
import { FakeBackend, type FakeConfig } from "../fake/backend";

/** Installs a fake backend and renders `ui` inside the app's providers (rerender keeps them). */
export function renderWithFake(ui: ReactElement, config: FakeConfig = {}) {
  const fake = new FakeBackend(config);
  fake.install(window);
  const wrapper = ({ children }: { children: ReactNode }) => <Providers env="test">{children}</Providers>;
  const result = render(ui, { wrapper });
  return { fake, ...result };
}
