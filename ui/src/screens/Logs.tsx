import { useMemo, useState } from "react";
import { Alert, Badge, Button, Code, Group, ScrollArea, SegmentedControl, Stack, Table, Text, Title } from "@mantine/core";
import type { Level } from "../bindings/Level";
import type { LogExport } from "../bindings/LogExport";
import { api } from "../api";
import { notifyError } from "../components/common";
import { useAppData } from "../state";

const RANK: Record<Level, number> = { info: 0, warning: 1, error: 2 };
const COLOR: Record<Level, string> = { info: "blue", warning: "yellow", error: "red" };

export function LogsScreen() {
  const { logs } = useAppData();
  const [min, setMin] = useState<Level>("info");
  const [exported, setExported] = useState<LogExport | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = useMemo(() => logs.filter((l) => RANK[l.level] >= RANK[min]), [logs, min]);

  async function exportLogs() {
    setBusy(true);
    try {
      setExported(await api.exportLogs());
    } catch (e) {
      notifyError(e, "Could not export the log");
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack data-testid="screen-logs">
      <Group justify="space-between">
        <Title order={2}>Logs</Title>
        <Button variant="default" onClick={() => void exportLogs()} loading={busy} data-testid="logs-export">
          Export redacted
        </Button>
      </Group>
      <SegmentedControl
        aria-label="Minimum level"
        value={min}
        onChange={(v) => setMin(v === "error" ? "error" : v === "warning" ? "warning" : "info")}
        data={[
          { value: "info", label: "All" },
          { value: "warning", label: "Warnings and errors" },
          { value: "error", label: "Errors" },
        ]}
        data-testid="logs-level"
        w="fit-content"
      />
      {exported && (
        <Alert color="teal" title="Log exported" data-testid="logs-exported">
          Written to <Code>{exported.path}</Code> with {exported.redactions} value{exported.redactions === 1 ? "" : "s"} redacted (addresses, txids, peer ids, amounts).
        </Alert>
      )}
      <Text size="xs" c="dimmed" data-testid="logs-count">
        {shown.length} of {logs.length} lines
      </Text>
      <ScrollArea h="60vh" type="auto" offsetScrollbars>
        <Table aria-label="Log lines" data-testid="logs-table" verticalSpacing={4}>
          <Table.Tbody>
            {shown.map((l, i) => (
              <Table.Tr key={`${l.at_ms}-${i}`} data-testid="log-line" data-level={l.level}>
                <Table.Td style={{ whiteSpace: "nowrap" }}>
                  <Text size="xs" ff="monospace">
                    {new Date(Number(l.at_ms)).toLocaleTimeString()}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Badge size="xs" color={COLOR[l.level]} variant="light">
                    {l.level}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace" style={{ wordBreak: "break-word" }}>
                    {l.swap_id && <Code mr={6}>{l.swap_id.slice(0, 8)}</Code>}
                    {l.message}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea>
    </Stack>
  );
}
