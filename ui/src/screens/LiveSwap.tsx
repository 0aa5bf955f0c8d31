import { useEffect, useState } from "react";
import { Alert, Button, Code, Group, Loader, Paper, Progress, SimpleGrid, Stack, Stepper, Table, Text, Title } from "@mantine/core";
import type { CommandError } from "../bindings/CommandError";
import type { PhaseName } from "../bindings/PhaseName";
import type { SwapDetail } from "../bindings/SwapDetail";
import { api, errorOf } from "../api";
import { btcText, xmrText } from "../amounts";
import { ErrorAlert, PhaseBadge, formatDuration, notifyError, phaseLabel } from "../components/common";
import { useAppData } from "../state";

const FINAL: PhaseName[] = ["completed", "refunded", "failed", "aborted"];

/** Index of the phase on the timeline negotiating → locked → executing → end. */
export function timelineIndex(phase: PhaseName): number {
  switch (phase) {
    case "initialized":
    case "negotiating":
      return 0;
    case "locked":
      return 1;
    case "executing":
      return 2;
    default:
      return 4; // all done
  }
}

/** Seconds left on a deadline, counted down locally from when it was received. */
export function useCountdown(etaSeconds: number | null, receivedAt: number): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (etaSeconds === null) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [etaSeconds, receivedAt]);
  if (etaSeconds === null) return null;
  return Math.max(0, etaSeconds - Math.floor((Math.max(now, receivedAt) - receivedAt) / 1000));
}

export function LiveSwapView({ swap, receivedAt, onBack }: { swap: SwapDetail; receivedAt: number; onBack?: () => void }) {
  const { upsertSwap } = useAppData();
  const [busy, setBusy] = useState<"cancel" | "abort" | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const left = useCountdown(swap.deadline ? swap.deadline.eta_seconds : null, receivedAt);
  const final = FINAL.includes(swap.phase);
  const idx = timelineIndex(swap.phase);

  async function act(kind: "cancel" | "abort") {
    setBusy(kind);
    setError(null);
    try {
      const ref = { swap_id: swap.swap_id };
      upsertSwap(kind === "cancel" ? await api.cancelRefund(ref) : await api.abortSwap(ref));
    } catch (e) {
      setError(errorOf(e));
    } finally {
      setBusy(null);
    }
  }

  const w = swap.waiting;
  return (
    <Stack data-testid="screen-live" data-swap-id={swap.swap_id}>
      <Group justify="space-between">
        <Title order={2}>Swap {swap.swap_id.slice(0, 8)}</Title>
        <Group>
          <PhaseBadge phase={swap.phase} testId="swap-phase" />
          {onBack && (
            <Button variant="default" size="xs" onClick={onBack} data-testid="live-back">
              All swaps
            </Button>
          )}
        </Group>
      </Group>
      <Stepper active={idx} size="sm" allowNextStepsSelect={false} data-testid="swap-timeline" aria-label="Swap progress">
        <Stepper.Step label="Negotiating" description="Keys and signatures" />
        <Stepper.Step label="Locked" description="Funds locked on chain" />
        <Stepper.Step label="Executing" description="Redeem or refund" />
        <Stepper.Step
          label={final ? phaseLabel(swap.phase) : "Done"}
          description={final ? "Finished" : "Completed or refunded"}
          color={swap.phase === "failed" ? "red" : swap.phase === "refunded" || swap.phase === "aborted" ? "yellow" : undefined}
        />
      </Stepper>
      <Paper withBorder p="md">
        <Stack gap="xs">
          <Text fw={600} data-testid="swap-step" aria-live="polite">
            {swap.step}
          </Text>
          <Text size="xs" c="dimmed">
            State: <Code>{swap.state}</Code>
          </Text>
          {w && (
            <div data-testid="swap-waiting">
              {w.for === "confirmations" ? (
                <>
                  <Text size="sm">
                    Waiting for {w.what} on {w.chain}: {w.have} of {w.need} confirmations
                  </Text>
                  <Progress value={w.need > 0 ? Math.min(100, (w.have / w.need) * 100) : 0} aria-label={`${w.have} of ${w.need} confirmations`} data-testid="swap-confirmations" />
                </>
              ) : (
                <Group gap="xs">
                  <Loader size="xs" />
                  <Text size="sm">{w.for === "peer" ? "Waiting for the maker's next message" : "Waiting for our wallet"}</Text>
                </Group>
              )}
            </div>
          )}
        </Stack>
      </Paper>
      {swap.deadline && (
        <Alert color="blue" title={`Next deadline: ${swap.deadline.what}`} data-testid="swap-deadline">
          <Text size="sm" data-testid="swap-countdown">
            In {swap.deadline.blocks} Bitcoin block{swap.deadline.blocks === 1 ? "" : "s"}, about {formatDuration(left ?? swap.deadline.eta_seconds)}
          </Text>
          <Text size="sm" mt={4} data-testid="swap-automatic">
            What the app will do on its own: {swap.deadline.automatic}
          </Text>
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed">
            You pay
          </Text>
          <Text fw={600} data-testid="swap-btc">
            {btcText(swap.btc_sat)}
          </Text>
        </Paper>
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed">
            You get
          </Text>
          <Text fw={600} data-testid="swap-xmr">
            {xmrText(swap.xmr_piconero)}
          </Text>
        </Paper>
      </SimpleGrid>
      <Text size="sm">
        XMR goes to: <Code>{swap.receive_address ?? "the built-in XMR wallet"}</Code>
      </Text>
      {swap.txs.length > 0 && (
        <Table aria-label="Bitcoin transactions" data-testid="swap-txs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Transaction</Table.Th>
              <Table.Th>Txid</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {swap.txs.map((t) => (
              <Table.Tr key={t.txid}>
                <Table.Td>{t.label}</Table.Td>
                <Table.Td>
                  <Code style={{ wordBreak: "break-all" }}>{t.txid}</Code>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {error && <ErrorAlert error={error} title="The action failed" testId="live-error" />}
      <Group>
        <Button color="orange" disabled={!swap.can_cancel_refund} loading={busy === "cancel"} onClick={() => void act("cancel")} data-testid="swap-cancel-refund">
          Cancel &amp; refund
        </Button>
        <Button color="red" variant="outline" disabled={!swap.can_abort} loading={busy === "abort"} onClick={() => void act("abort")} data-testid="swap-abort">
          Abort
        </Button>
      </Group>
      {!swap.can_cancel_refund && !final && (
        <Text size="xs" c="dimmed">
          Cancel &amp; refund becomes possible once the cancel timelock has passed.
        </Text>
      )}
    </Stack>
  );
}

/** The live view of a swap from the shared state, fetching it if it is not known yet. */
export function LiveSwapScreen({ swapId, onBack }: { swapId: string; onBack: () => void }) {
  const { swaps, swapSeenAt, upsertSwap } = useAppData();
  const swap = swaps.find((s) => s.swap_id === swapId);
  const [error, setError] = useState<CommandError | null>(null);
  useEffect(() => {
    api
      .swap({ swap_id: swapId })
      .then(upsertSwap)
      .catch((e) => {
        setError(errorOf(e));
        notifyError(e, "Could not refresh the swap");
      });
  }, [swapId, upsertSwap]);
  if (!swap) {
    return error ? <ErrorAlert error={error} title="Could not load the swap" /> : <Loader aria-label="Loading the swap" />;
  }
  return <LiveSwapView swap={swap} receivedAt={swapSeenAt[swapId] ?? Date.now()} onBack={onBack} />;
}
