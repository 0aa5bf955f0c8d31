import type { ReactNode } from "react";
import { MantineProvider, createTheme, localStorageColorSchemeManager } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { AppDataProvider } from "./state";

export const COLOR_SCHEME_KEY = "confiaro-color-scheme";
const colorSchemeManager = localStorageColorSchemeManager({ key: COLOR_SCHEME_KEY });

const theme = createTheme({
  primaryColor: "indigo",
  // System fonts only: the app runs offline.
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
  fontFamilyMonospace: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace",
  focusRing: "auto",
});

export function Providers({ children, env }: { children: ReactNode; env?: "test" }) {
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto" colorSchemeManager={colorSchemeManager} env={env}>
      <Notifications position="top-right" />
      <AppDataProvider>{children}</AppDataProvider>
    </MantineProvider>
  );
}
