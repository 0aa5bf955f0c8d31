import { useCallback, useEffect, useMemo, useState } from "react";
import { Alert, Button, Checkbox, Group, Loader, SegmentedControl, Select, Stack, Table, Text, TextInput, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import type { CommandError } from "../bindings/CommandError";
import type { OfferView } from "../bindings/OfferView";
import { api, errorOf } from "../api";
import { btcText, xmrText } from "../amounts";
import { filterOffers, missingQuoteText, sortOffers, type OfferFilter, type SortDir, type SortKey } from "../offers";
import { ASSETS, SIDES, type Side } from "../side";
import { satPerXmr, sellLimits } from "../sell";
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

type SortValue = "price-best" | "price-worst" | "min-asc" | "min-desc" | "max-desc" | "max-asc";

/** The sort choices for a side: the best price first is the default; "best" depends on the side. */
function sortsFor(side: Side): { value: SortValue; label: string; key: SortKey; dir: SortDir }[] {
  const spec = SIDES[side];
  const worst: SortDir = spec.bestPrice === "desc" ? "asc" : "desc";
  return [
    { value: "price-best", label: spec.bestPriceLabel, key: "price", dir: spec.bestPrice },
    { value: "price-worst", label: spec.worstPriceLabel, key: "price", dir: worst },
    { value: "min-asc", label: "Minimum: smallest first", key: "min", dir: "asc" },
    { value: "min-desc", label: "Minimum: largest first", key: "min", dir: "desc" },
    { value: "max-desc", label: "Maximum: largest first", key: "max", dir: "desc" },
    { value: "max-asc", label: "Maximum: smallest first", key: "max", dir: "asc" },
  ];
}

/** Sorts (best price first) and filters offers for a side. */
export function useShownOffers(offers: OfferView[] | null, side: Side, sort: SortValue, filter: OfferFilter): OfferView[] {
  return useMemo(() => {
    const sorts = sortsFor(side);
    const s = sorts.find((x) => x.value === sort) ?? sorts[0]!;
    return sortOffers(filterOffers(offers ?? [], filter, side), s.key, s.dir, side);
  }, [offers, side, sort, filter.withReserveProof, filter.amount]);
}

export function OffersTable({
  offers,
  side,
  onPick,
  pickLabel,
  selected,
}: {
  offers: OfferView[];
  side: Side;
  onPick: (o: OfferView) => void;
  pickLabel: string;
  selected?: string | null;
}) {
  const spec = SIDES[side];
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover data-testid="offers-table" aria-label="Offers">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Maker</Table.Th>
            <Table.Th>{spec.priceHeader}</Table.Th>
            <Table.Th>Min</Table.Th>
            <Table.Th>Max</Table.Th>
            {side === "buy" && <Table.Th>Reserve proof</Table.Th>}
            <Table.Th>
              <VisuallyHidden>Action</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {offers.map((o) => {
            const quote = spec.quote(o);
            const limits = side === "sell" && quote ? sellLimits(quote) : null;
            return (
              <Table.Tr key={o.address} data-testid="offer-row" data-peer={o.peer} aria-selected={selected === o.address}>
                <Table.Td>
                  <Tooltip label={o.address}>
                    <Text size="sm" ff="monospace">
                      {shortId(o.peer)}
                    </Text>
                  </Tooltip>
                </Table.Td>
                {quote ? (
                  <>
                    <Table.Td>
                      <span data-testid="offer-price">{xmrText(quote.piconero_per_btc)}</span>
                      {side === "sell" && (
                        <Text size="xs" c="dimmed" data-testid="offer-btc-per-xmr">
                          1 XMR brings {btcText(satPerXmr(quote))}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <span data-testid="offer-min">{btcText(quote.min_sat)}</span>
                      {limits && (
                        <Text size="xs" c="dimmed">
                          sell at least {xmrText(limits.minPiconero)}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <span data-testid="offer-max">{btcText(quote.max_sat)}</span>
                      {limits && (
                        <Text size="xs" c="dimmed">
                          sell at most {xmrText(limits.maxPiconero)}
                        </Text>
                      )}
                    </Table.Td>
                  </>
                ) : (
                  <Table.Td colSpan={3}>
                    <Text size="sm" c={(side === "buy" ? o.sell_quote : o.quote) ? "dimmed" : "red"} data-testid="offer-error">
                      {missingQuoteText(o, side)}
                    </Text>
                  </Table.Td>
                )}
                {side === "buy" && <Table.Td data-testid="offer-reserve">{o.reserve_piconero !== null ? `✓ ${xmrText(o.reserve_piconero)}` : "none"}</Table.Td>}
                <Table.Td>
                  <Button size="xs" disabled={!quote} onClick={() => onPick(o)} data-testid="offer-pick" aria-label={`${pickLabel}: ${shortId(o.peer)}`} variant={selected === o.address ? "filled" : "light"}>
                    {pickLabel}
                  </Button>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Buy XMR / Sell XMR switch. */
export function SideSwitch({ side, onChange }: { side: Side; onChange: (side: Side) => void }) {
  return (
    <SegmentedControl
      value={side}
      onChange={(v) => onChange(v === "sell" ? "sell" : "buy")}
      aria-label="Buy or sell XMR"
      data-testid="offers-side"
      data={[
        { value: "buy", label: <span data-testid="offers-side-buy">Buy XMR</span> },
        { value: "sell", label: <span data-testid="offers-side-sell">Sell XMR</span> },
      ]}
    />
  );
}

export function OffersScreen({ onSwap, initialSide = "buy", onSideChange }: { onSwap: (offer: OfferView, side: Side) => void; initialSide?: Side; onSideChange?: (side: Side) => void }) {
  const { offers, error, loading, refresh } = useOffers();
  const [side, setSide] = useState<Side>(initialSide);
  const [sort, setSort] = useState<SortValue>("price-best");
  const [withProof, setWithProof] = useState(false);
  const [amount, setAmount] = useState("");
  const spec = SIDES[side];
  const paid = ASSETS[spec.pays];
  const amountError = amount.trim() !== "" ? (() => { const p = paid.parse(amount); return p.ok ? null : p.error; })() : null;
  const shown = useShownOffers(offers, side, sort, { withReserveProof: withProof, amount });

  return (
    <Stack data-testid="screen-offers">
      <Group justify="space-between">
        <Title order={2}>Offers</Title>
        <Button variant="default" onClick={() => void refresh()} loading={loading} data-testid="offers-refresh">
          Refresh
        </Button>
      </Group>
      <Group>
        <SideSwitch
          side={side}
          onChange={(s) => {
            setSide(s);
            setAmount(""); // its unit changes with the side
            onSideChange?.(s);
          }}
        />
        <Text size="sm" c="dimmed" data-testid="offers-side-text">
          {side === "buy" ? "Makers selling XMR: you pay BTC and get XMR." : "Makers buying XMR: you pay XMR and get BTC."}
        </Text>
      </Group>
      <Group align="flex-end">
        <Select
          label="Sort by"
          data={sortsFor(side).map(({ value, label }) => ({ value, label }))}
          value={sort}
          onChange={(v) => v && setSort(v as SortValue)}
          allowDeselect={false}
          data-testid="offers-sort"
          w={300}
        />
        <TextInput label={`Amount fits (${paid.code})`} placeholder={`e.g. ${spec.amountPlaceholder}`} value={amount} onChange={(e) => setAmount(e.currentTarget.value)} error={amountError} data-testid="offers-amount" inputMode="decimal" w={200} />
        {side === "buy" && <Checkbox label="Has reserve proof" checked={withProof} onChange={(e) => setWithProof(e.currentTarget.checked)} data-testid="offers-proof" mb={8} />}
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
      {shown.length > 0 && <OffersTable offers={shown} side={side} onPick={(o) => onSwap(o, side)} pickLabel={spec.pickLabel} />}
      <Text size="xs" c="dimmed" data-testid="offers-count">
        {offers ? `${shown.length} of ${offers.length} offers shown` : ""}
      </Text>
    </Stack>
  );
}
