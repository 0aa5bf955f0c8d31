import { Children, useEffect, useState } from "react";
import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Stack,
  Stepper,
  Text,
  Tooltip,
  type StepperProps,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import QRCode from "qrcode";
import type { CommandError } from "../bindings/CommandError";
import type { PhaseName } from "../bindings/PhaseName";
import { errorOf } from "../api";

/** A failed command: what happened and what to do next. */
export function ErrorAlert({ error, title = "Something went wrong", testId = "error" }: { error: CommandError; title?: string; testId?: string }) {
  return (
    <Alert color="red" title={title} role="alert" data-testid={testId}>
      <Text size="sm" data-testid={`${testId}-message`}>
        {error.message}
      </Text>
      <Text size="sm" mt={4} fw={600} data-testid={`${testId}-next-step`}>
        Next step: {error.next_step}
      </Text>
    </Alert>
  );
}

/** Shows a failed command as a notification (message + next step). */
export function notifyError(error: unknown, title = "Something went wrong"): CommandError {
  const e = errorOf(error);
  notifications.show({
    color: "red",
    title,
    autoClose: 12000,
    message: (
      <span data-testid="notification-error">
        {e.message}
        <br />
        <b>Next step:</b> {e.next_step}
      </span>
    ),
  });
  return e;
}

export function notifyOk(title: string, message: React.ReactNode) {
  notifications.show({ color: "teal", title, message, autoClose: 8000 });
}

/** A QR code rendered offline as SVG. */
export function QrCode({ value, label, testId }: { value: string; label: string; testId?: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    QRCode.toString(value, { type: "svg", margin: 2, errorCorrectionLevel: "M", color: { dark: "#000000", light: "#ffffff" } })
      .then((svg) => {
        if (live) setSrc(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
      })
      .catch(() => setSrc(null));
    return () => {
      live = false;
    };
  }, [value]);
  if (!src) return null;
  return <img src={src} alt={label} width={180} height={180} data-testid={testId} style={{ background: "#fff", borderRadius: 4 }} />;
}

/** An address (or any value) as selectable text with a copy button. */
export function CopyField({ value, label, testId }: { value: string; label: string; testId?: string }) {
  return (
    <Stack gap={6} style={{ flex: 1, minWidth: 0 }}>
      <Text size="sm" fw={500}>
        {label}
      </Text>
      <Code block data-testid={testId} style={{ wordBreak: "break-all", whiteSpace: "pre-wrap", userSelect: "all" }}>
        {value}
      </Code>
      <Group>
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" onClick={copy} aria-label={`Copy ${label}`} data-testid={testId ? `${testId}-copy` : undefined}>
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

/**
 * Mantine's Stepper, drawn in its final state at once. Mantine animates a step that becomes
 * done: its colour fades in over 150 ms and its check mark pops in on a later animation
 * frame. A window that paints no frame for a while (hidden, busy, or captured right away)
 * then shows the step before the current one as a filled circle without its check mark,
 * which reads as "this is the current step". A new Stepper for each active step starts in
 * its final state: nothing waits for a frame.
 */
export function SettledStepper(props: StepperProps) {
  return <Stepper key={`${props.active}/${Children.count(props.children)}`} {...props} />;
}

const PHASE_COLOR: Record<PhaseName, string> = {
  initialized: "gray",
  negotiating: "blue",
  locked: "violet",
  executing: "orange",
  completed: "teal",
  refunded: "yellow",
  failed: "red",
  aborted: "gray",
};

export function phaseLabel(phase: PhaseName): string {
  return phase.charAt(0).toUpperCase() + phase.slice(1);
}

export function PhaseBadge({ phase, testId }: { phase: PhaseName; testId?: string }) {
  return (
    <Badge color={PHASE_COLOR[phase]} variant="light" data-testid={testId} data-phase={phase} style={{ minWidth: "fit-content", flexShrink: 0 }}>
      {phaseLabel(phase)}
    </Badge>
  );
}

/** Light/dark switch; Mantine keeps the choice in localStorage (default: the system's). */
export function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme("light", { getInitialValueInEffect: false });
  const next = computed === "dark" ? "light" : "dark";
  const label = `Switch to ${next} theme`;
  return (
    <Tooltip label={label}>
      <ActionIcon variant="default" size="lg" aria-label={label} data-testid="theme-toggle" data-scheme={computed} onClick={() => setColorScheme(next)}>
        <span aria-hidden="true">{computed === "dark" ? "☀" : "☾"}</span>
      </ActionIcon>
    </Tooltip>
  );
}

/** "1 h 05 min", "3 min 20 s", "45 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}

export function shortId(id: string, keep = 8): string {
  return id.length > keep * 2 + 1 ? `${id.slice(0, keep)}…${id.slice(-keep)}` : id;
}
