import { useState } from "react";
import { Alert, Button, Code, Group, Stack, Table, Title } from "@mantine/core";
import type { SwapDetail } from "../bindings/SwapDetail";
import { api } from "../api";
import { ASSETS, SIDES, sideOfRole, swapAmount } from "../side";
import { PhaseBadge, notifyError } from "../components/common";
import { useAppData } from "../state";

export function HistoryScreen({ onOpen }: { onOpen: (swapId: string) => void }) {
  const { swaps, upsertSwap, reloadSwaps } = useAppData();
  const [receipt, setReceipt] = useState<{ swapId: string; path: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function exportReceipt(s: SwapDetail) {
    setBusy(`r-${s.swap_id}`);
    try {
      const r = await api.exportReceipt({ swap_id: s.swap_id });
      setReceipt({ swapId: s.swap_id, path: r.path });
    } catch (e) {
      notifyError(e, "Could not export the receipt");
    } finally {
      setBusy(null);
    }
  }
  async function cancelRefund(s: SwapDetail) {
    setBusy(`c-${s.swap_id}`);
    try {
      upsertSwap(await api.cancelRefund({ swap_id: s.swap_id }));
    } catch (e) {
      notifyError(e, "Could not cancel and refund");
    } finally {
      setBusy(null);
    }
  }

  return (
    <Stack data-testid="screen-history">
      <Group justify="space-between">
        <Title order={2}>History</Title>
        <Button variant="default" onClick={() => reloadSwaps().catch((e) => notifyError(e, "Could not load swaps"))} data-testid="history-refresh">
          Refresh
        </Button>
      </Group>
      {receipt && (
        <Alert color="teal" title={`Receipt of swap ${receipt.swapId.slice(0, 8)} exported`} data-testid="history-receipt-path" withCloseButton onClose={() => setReceipt(null)} closeButtonLabel="Dismiss">
          Saved to <Code style={{ wordBreak: "break-all" }}>{receipt.path}</Code>
        </Alert>
      )}
      {swaps.length === 0 ? (
        <Alert color="gray" data-testid="history-empty">
          No swaps yet.
        </Alert>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table striped aria-label="Swaps" data-testid="history-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>Swap</Table.Th>
                <Table.Th>Side</Table.Th>
                <Table.Th>Paid</Table.Th>
                <Table.Th>Received</Table.Th>
                <Table.Th>Phase</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {swaps.map((s) => {
                const spec = SIDES[sideOfRole(s.role)];
                return (
                  <Table.Tr key={s.swap_id} data-testid="history-row" data-swap-id={s.swap_id}>
                    <Table.Td>{new Date(s.created_at * 1000).toLocaleString()}</Table.Td>
                    <Table.Td>
                      <Code>{s.swap_id.slice(0, 8)}</Code>
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }} data-testid="history-side" data-side={spec.side}>
                      {spec.side === "buy" ? "Bought XMR" : "Sold XMR"}
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }} data-testid="history-paid">
                      {ASSETS[spec.pays].text(swapAmount(s, spec.pays))}
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }} data-testid="history-received">
                      {ASSETS[spec.gets].text(swapAmount(s, spec.gets))}
                    </Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>
                      <PhaseBadge phase={s.phase} testId="history-phase" />
                    </Table.Td>
                    <Table.Td>
                      <Group gap="xs">
                        <Button size="xs" variant="light" onClick={() => onOpen(s.swap_id)} data-testid="history-open" aria-label={`Open swap ${s.swap_id.slice(0, 8)}`}>
                          Open
                        </Button>
                        <Button size="xs" variant="default" loading={busy === `r-${s.swap_id}`} onClick={() => void exportReceipt(s)} data-testid="history-receipt">
                          Export receipt
                        </Button>
                        {s.can_cancel_refund && (
                          <Button size="xs" color="orange" loading={busy === `c-${s.swap_id}`} onClick={() => void cancelRefund(s)} data-testid="history-cancel-refund">
                            Cancel &amp; refund
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
