import { useEffect, useState } from "react";
import { Alert, Badge, Button, Code, Group, Loader, Paper, Progress, SimpleGrid, Stack, Stepper, Table, Text, Title } from "@mantine/core";
import type { CommandError } from "../bindings/CommandError";
import type { PhaseName } from "../bindings/PhaseName";
import type { SwapDetail } from "../bindings/SwapDetail";
import type { SwapTx } from "../bindings/SwapTx";
import { api, errorOf } from "../api";
import { ASSETS, SIDES, sideOfRole, swapAmount } from "../side";
import { ErrorAlert, PhaseBadge, SettledStepper, formatDuration, notifyError, phaseLabel } from "../components/common";
import { chainText, stateText, txText } from "../names";
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
  const spec = SIDES[sideOfRole(swap.role)];
  // Selling (Alice) there is no Cancel & refund: the engine cancels and recovers on its own.
  const canAskRefund = swap.role === "bob";
  return (
    <Stack data-testid="screen-live" data-swap-id={swap.swap_id}>
      <Group justify="space-between">
        <Group>
          <Title order={2}>Swap {swap.swap_id.slice(0, 8)}</Title>
          <Badge variant="outline" color={spec.side === "buy" ? "indigo" : "cyan"} data-testid="swap-side" data-side={spec.side}>
            {spec.side === "buy" ? "Buying XMR" : "Selling XMR"}
          </Badge>
        </Group>
        <Group>
          <PhaseBadge phase={swap.phase} testId="swap-phase" />
          {onBack && (
            <Button variant="default" size="xs" onClick={onBack} data-testid="live-back">
              All swaps
            </Button>
          )}
        </Group>
      </Group>
      <SettledStepper active={idx} size="sm" allowNextStepsSelect={false} data-testid="swap-timeline" aria-label="Swap progress">
        <Stepper.Step label="Negotiating" description="Keys and signatures" />
        <Stepper.Step label="Locked" description="Funds locked on chain" />
        <Stepper.Step label="Executing" description="Redeem or refund" />
        <Stepper.Step
          label={final ? phaseLabel(swap.phase) : "Done"}
          description={final ? "Finished" : "Completed or refunded"}
          color={swap.phase === "failed" ? "red" : swap.phase === "refunded" || swap.phase === "aborted" ? "yellow" : undefined}
        />
      </SettledStepper>
      <Paper withBorder p="md">
        <Stack gap="xs">
          <Text fw={600} data-testid="swap-step" aria-live="polite">
            {swap.step}
          </Text>
          <Text size="xs" c="dimmed" data-testid="swap-state" data-state={swap.state}>
            Stage: {stateText(swap.state, swap.role)}
          </Text>
          {w && (
            <div data-testid="swap-waiting">
              {w.for === "confirmations" ? (
                <>
                  <Text size="sm">
                    Waiting for {w.what} on {chainText(w.chain)}: {w.have} of {w.need} confirmations
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
          <Text fw={600} data-testid={`swap-${spec.pays}`}>
            {ASSETS[spec.pays].text(swapAmount(swap, spec.pays))}
          </Text>
        </Paper>
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed">
            You get (less the network fee of moving it to you)
          </Text>
          <Text fw={600} data-testid={`swap-${spec.gets}`}>
            {ASSETS[spec.gets].text(swapAmount(swap, spec.gets))}
          </Text>
        </Paper>
      </SimpleGrid>
      <Text size="sm" data-testid="swap-receive">
        {ASSETS[spec.gets].code} goes to: <Code>{swap.receive_address ?? `the ${spec.receive.builtinName}`}</Code>
      </Text>
      <SwapTxs txs={swap.txs} />
      {error && <ErrorAlert error={error} title="The action failed" testId="live-error" />}
      {!final && (
        <>
          <Group>
            {canAskRefund && (
              <Button color="orange" disabled={!swap.can_cancel_refund} loading={busy === "cancel"} onClick={() => void act("cancel")} data-testid="swap-cancel-refund">
                Cancel &amp; refund
              </Button>
            )}
            <Button color="red" variant="outline" disabled={!swap.can_abort} loading={busy === "abort"} onClick={() => void act("abort")} data-testid="swap-abort">
              Abort
            </Button>
          </Group>
          {canAskRefund && !swap.can_cancel_refund && (
            <Text size="xs" c="dimmed">
              Cancel &amp; refund becomes possible once the cancel timelock has passed.
            </Text>
          )}
          {!canAskRefund && (
            <Text size="sm" c="dimmed" data-testid="swap-on-its-own">
              Nothing to press if the maker stops: after the cancel timelock the app cancels on its own and gets your XMR back once the maker takes its BTC back, or, if it
              does not in time, takes the maker's BTC instead.
            </Text>
          )}
        </>
      )}
    </Stack>
  );
}

function confirmationsText(confirmations: number): string {
  return confirmations === 0 ? "Unconfirmed when last checked" : `${confirmations} confirmation${confirmations === 1 ? "" : "s"}`;
}

function TxRows({ txs, confirmations }: { txs: SwapTx[]; confirmations?: boolean }) {
  return (
    <Table.Tbody>
      {txs.map((t) => (
        <Table.Tr key={t.txid} data-testid="swap-tx" data-label={t.label}>
          <Table.Td style={{ whiteSpace: "nowrap" }}>{txText(t.label)}</Table.Td>
          <Table.Td>
            <Code style={{ wordBreak: "break-all" }}>{t.txid}</Code>
          </Table.Td>
          {confirmations && (
            <Table.Td style={{ whiteSpace: "nowrap" }} data-testid="swap-tx-confirmations">
              {t.on_chain.status === "seen" ? confirmationsText(t.on_chain.confirmations) : ""}
            </Table.Td>
          )}
        </Table.Tr>
      ))}
    </Table.Tbody>
  );
}

function TxHead({ confirmations }: { confirmations?: boolean }) {
  return (
    <Table.Thead>
      <Table.Tr>
        <Table.Th>Transaction</Table.Th>
        <Table.Th>Txid</Table.Th>
        {confirmations && <Table.Th>Confirmations</Table.Th>}
      </Table.Tr>
    </Table.Thead>
  );
}

/**
 * A swap's Bitcoin transactions. All six are agreed at setup; the ones seen on the chain are
 * listed with their confirmations, the ones never published apart (folded: the swap ended
 * without them), and while the swap runs (nothing known yet) all as agreed.
 */
export function SwapTxs({ txs }: { txs: SwapTx[] }) {
  const [showUnpublished, setShowUnpublished] = useState(false);
  if (txs.length === 0) return null;
  const seen = txs.filter((t) => t.on_chain.status === "seen");
  const notSeen = txs.filter((t) => t.on_chain.status === "not_seen");
  const unknown = txs.filter((t) => t.on_chain.status === "unknown");
  return (
    <Stack gap="xs" data-testid="swap-txs">
      {seen.length > 0 && (
        <>
          <Title order={4}>On the Bitcoin chain</Title>
          <Table aria-label="Bitcoin transactions on the chain" data-testid="swap-txs-on-chain">
            <TxHead confirmations />
            <TxRows txs={seen} confirmations />
          </Table>
          <Text size="xs" c="dimmed">
            Confirmations as the app last counted them: it stops counting once the swap has ended.
          </Text>
        </>
      )}
      {seen.length === 0 && unknown.length === 0 && (
        <Text size="sm" data-testid="swap-txs-none">
          None of this swap's Bitcoin transactions reached the chain.
        </Text>
      )}
      {unknown.length > 0 && (
        <>
          <Title order={4}>Bitcoin transactions agreed for this swap</Title>
          <Text size="xs" c="dimmed">
            Only some of them reach the chain, depending on how the swap goes; this list says which once the swap has ended.
          </Text>
          <Table aria-label="Bitcoin transactions agreed" data-testid="swap-txs-agreed">
            <TxHead />
            <TxRows txs={unknown} />
          </Table>
        </>
      )}
      {notSeen.length > 0 && (
        <>
          <Group>
            <Button
              variant="subtle"
              size="xs"
              onClick={() => setShowUnpublished((v) => !v)}
              aria-expanded={showUnpublished}
              aria-controls="swap-txs-unpublished"
              data-testid="swap-txs-unpublished-toggle"
            >
              {showUnpublished ? "Hide" : "Show"} the {notSeen.length} transaction{notSeen.length === 1 ? "" : "s"} never published
            </Button>
          </Group>
          {showUnpublished && (
            <Stack gap={4} id="swap-txs-unpublished">
              <Text size="xs" c="dimmed">
                Agreed at setup in case the swap went another way; it ended without them.
              </Text>
              <Table aria-label="Bitcoin transactions never published" data-testid="swap-txs-unpublished">
                <TxHead />
                <TxRows txs={notSeen} />
              </Table>
            </Stack>
          )}
        </>
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
