import { useCallback, useEffect, useMemo, useState } from "react";
import { Alert, Button, Checkbox, Group, Loader, Select, Stack, Table, Text, TextInput, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import type { CommandError } from "../bindings/CommandError";
import type { OfferView } from "../bindings/OfferView";
import { api, errorOf } from "../api";
import { btcText, parseBtc, xmrText } from "../amounts";
import { filterOffers, sortOffers, type SortDir, type SortKey } from "../offers";
import { ErrorAlert, shortId } from "../components/common";

export function useOffers() {
  const [offers, setOffers] = useState<OfferView[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [loading, setLoading] = useState(false);
  const refresh = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setOffers(await api.offers());
    } catch (e) {
      setError(errorOf(e));
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return { offers, error, loading, refresh };
}

const SORTS: { value: string; label: string; key: SortKey; dir: SortDir }[] = [
  { value: "price-desc", label: "Price: most XMR per BTC first", key: "price", dir: "desc" },
  { value: "price-asc", label: "Price: least XMR per BTC first", key: "price", dir: "asc" },
  { value: "min-asc", label: "Minimum: smallest first", key: "min", dir: "asc" },
  { value: "min-desc", label: "Minimum: largest first", key: "min", dir: "desc" },
  { value: "max-desc", label: "Maximum: largest first", key: "max", dir: "desc" },
  { value: "max-asc", label: "Maximum: smallest first", key: "max", dir: "asc" },
];

export function OffersTable({
  offers,
  onPick,
  pickLabel,
  selected,
}: {
  offers: OfferView[];
  onPick: (o: OfferView) => void;
  pickLabel: string;
  selected?: string | null;
}) {
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover data-testid="offers-table" aria-label="Offers">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Maker</Table.Th>
            <Table.Th>Price (XMR per BTC)</Table.Th>
            <Table.Th>Min</Table.Th>
            <Table.Th>Max</Table.Th>
            <Table.Th>Reserve proof</Table.Th>
            <Table.Th>
              <VisuallyHidden>Action</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {offers.map((o) => (
            <Table.Tr key={o.address} data-testid="offer-row" data-peer={o.peer} aria-selected={selected === o.address}>
              <Table.Td>
                <Tooltip label={o.address}>
                  <Text size="sm" ff="monospace">
                    {shortId(o.peer)}
                  </Text>
                </Tooltip>
              </Table.Td>
              {o.quote ? (
                <>
                  <Table.Td data-testid="offer-price">{xmrText(o.quote.piconero_per_btc)}</Table.Td>
                  <Table.Td data-testid="offer-min">{btcText(o.quote.min_sat)}</Table.Td>
                  <Table.Td data-testid="offer-max">{btcText(o.quote.max_sat)}</Table.Td>
                </>
              ) : (
                <Table.Td colSpan={3}>
                  <Text size="sm" c="red" data-testid="offer-error">
                    No quote: {o.error ?? "unknown reason"}
                  </Text>
                </Table.Td>
              )}
              <Table.Td data-testid="offer-reserve">{o.reserve_piconero !== null ? `✓ ${xmrText(o.reserve_piconero)}` : "none"}</Table.Td>
              <Table.Td>
                <Button size="xs" disabled={!o.quote} onClick={() => onPick(o)} data-testid="offer-pick" aria-label={`${pickLabel}: ${shortId(o.peer)}`} variant={selected === o.address ? "filled" : "light"}>
                  {pickLabel}
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function OffersScreen({ onSwap }: { onSwap: (offer: OfferView) => void }) {
  const { offers, error, loading, refresh } = useOffers();
  const [sort, setSort] = useState("price-desc");
  const [withProof, setWithProof] = useState(false);
  const [amount, setAmount] = useState("");
  const amountError = amount.trim() !== "" ? (() => { const p = parseBtc(amount); return p.ok ? null : p.error; })() : null;
  const shown = useMemo(() => {
    const s = SORTS.find((x) => x.value === sort) ?? SORTS[0]!;
    return sortOffers(filterOffers(offers ?? [], { withReserveProof: withProof, amountBtc: amount }), s.key, s.dir);
  }, [offers, sort, withProof, amount]);

  return (
    <Stack data-testid="screen-offers">
      <Group justify="space-between">
        <Title order={2}>Offers</Title>
        <Button variant="default" onClick={() => void refresh()} loading={loading} data-testid="offers-refresh">
          Refresh
        </Button>
      </Group>
      <Group align="flex-end">
        <Select label="Sort by" data={SORTS.map(({ value, label }) => ({ value, label }))} value={sort} onChange={(v) => v && setSort(v)} allowDeselect={false} data-testid="offers-sort" w={300} />
        <TextInput label="Amount fits (BTC)" placeholder="e.g. 0.01" value={amount} onChange={(e) => setAmount(e.currentTarget.value)} error={amountError} data-testid="offers-amount" inputMode="decimal" w={200} />
        <Checkbox label="Has reserve proof" checked={withProof} onChange={(e) => setWithProof(e.currentTarget.checked)} data-testid="offers-proof" mb={8} />
      </Group>
      {error && <ErrorAlert error={error} title="Could not load offers" />}
      {offers === null && !error && (
        <Group>
          <Loader size="sm" /> <Text>Looking for makers…</Text>
        </Group>
      )}
      {offers !== null && shown.length === 0 && (
        <Alert color="gray" data-testid="offers-empty">
          {offers.length === 0 ? "No makers found at the rendezvous points yet. Try Refresh in a moment." : "No offer matches the filter."}
        </Alert>
      )}
      {shown.length > 0 && <OffersTable offers={shown} onPick={onSwap} pickLabel="Swap with this maker" />}
      <Text size="xs" c="dimmed" data-testid="offers-count">
        {offers ? `${shown.length} of ${offers.length} offers shown` : ""}
      </Text>
    </Stack>
  );
}
