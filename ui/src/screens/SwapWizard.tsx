import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { Alert, Button, Checkbox, Group, Loader, Radio, Stack, Stepper, Table, Text, TextInput, Title } from "@mantine/core";
import type { Addresses } from "../bindings/Addresses";
import type { CommandError } from "../bindings/CommandError";
import type { OfferView } from "../bindings/OfferView";
import type { SwapDetail } from "../bindings/SwapDetail";
import { api, errorOf } from "../api";
import { units, xmrText } from "../amounts";
import { ASSETS, SIDES, type AmountCheck, type Side, type SideSpec, type SwapEstimate } from "../side";
import { CopyField, ErrorAlert, QrCode, SettledStepper, shortId } from "../components/common";
import { useAppData } from "../state";
import { OffersTable, useOffers, useShownOffers } from "./Offers";

type StepId = "offer" | "amount" | "receive" | "deposit" | "confirm";
type OkCheck = AmountCheck & { ok: true };
type ReceiveMode = "builtin" | "external";

/**
 * The swap wizard for either side: offer → amount → where the coins go → deposit (only when
 * the balance is short) → confirm. What differs per side comes from `SIDES[side]`.
 */
export function SwapWizard({ side = "buy", initialOffer, onStarted }: { side?: Side; initialOffer: OfferView | null; onStarted: (swap: SwapDetail) => void }) {
  const spec = SIDES[side];
  const { balances, setBalances, status, upsertSwap } = useAppData();
  const [offer, setOffer] = useState<OfferView | null>(initialOffer);
  const [amount, setAmount] = useState("");
  const [receiveMode, setReceiveMode] = useState<ReceiveMode>("builtin");
  const [externalAddress, setExternalAddress] = useState("");
  const [needsDeposit, setNeedsDeposit] = useState(false);
  const [step, setStep] = useState<StepId>(initialOffer && spec.quote(initialOffer) ? "amount" : "offer");
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<CommandError | null>(null);
  // the amount above which a swap needs a second confirmation (Settings), in the unit paid
  const [limit, setLimit] = useState<bigint | null>(null);
  const [secondYes, setSecondYes] = useState(false);
  useEffect(() => {
    api
      .getSettings()
      .then((s) => {
        const text = spec.pays === "btc" ? s.confirm_above_sat : s.confirm_above_piconero;
        setLimit(text === "" ? null : units(text));
      })
      .catch(() => setLimit(null)); // the backend refuses an unconfirmed amount anyway
  }, [spec.pays]);

  const quote = offer ? spec.quote(offer) : null;
  const balance = balances ? spec.balance(balances) : 0n;
  const check = useMemo(() => (quote ? spec.check(amount, quote, balance) : null), [spec, quote, amount, balance]);
  const ok: OkCheck | null = check?.ok ? check : null;
  const covered = ok ? ok.shortfall === 0n : false;

  const steps: StepId[] = needsDeposit ? ["offer", "amount", "receive", "deposit", "confirm"] : ["offer", "amount", "receive", "confirm"];
  const active = steps.indexOf(step);
  const receiveAddress = receiveMode === "external" ? externalAddress.trim() : null;

  async function start() {
    if (!offer || !ok) return;
    setStarting(true);
    setStartError(null);
    try {
      const swap =
        side === "buy"
          ? await api.buyXmr({ maker: offer.address, btc_sat: ok.sat.toString(), receive_address: receiveAddress, confirmed_above_limit: secondYes })
          : await api.sellXmr({ maker: offer.address, xmr_piconero: ok.piconero.toString(), receive_address: receiveAddress, confirmed_above_limit: secondYes });
      upsertSwap(swap);
      onStarted(swap);
    } catch (err) {
      setStartError(errorOf(err));
    } finally {
      setStarting(false);
    }
  }

  return (
    <Stack data-testid="screen-swap" data-side={side}>
      <Title order={2}>{spec.title}</Title>
      <SettledStepper active={active} onStepClick={(i) => i < active && setStep(steps[i]!)} allowNextStepsSelect={false} size="sm" data-testid="wizard-stepper">
        {steps.map((id, i) => (
          <Stepper.Step key={id} label={STEP_LABEL[id]} data-testid={`wizard-step-${id}`} aria-current={i === active ? "step" : undefined} />
        ))}
      </SettledStepper>

      {step === "offer" && (
        <OfferStep
          spec={spec}
          selected={offer?.address ?? null}
          onPick={(o) => {
            setOffer(o);
            setStep("amount");
          }}
        />
      )}

      {step === "amount" && offer && quote && (
        <AmountStep spec={spec} offer={offer} quoteText={spec.quoteText(quote)} amount={amount} onAmount={setAmount} check={check} balance={balance} onBack={() => setStep("offer")} onNext={() => setStep("receive")} />
      )}

      {step === "receive" && ok && (
        <ReceiveStep
          spec={spec}
          mode={receiveMode}
          onMode={setReceiveMode}
          address={externalAddress}
          onAddress={setExternalAddress}
          onBack={() => setStep("amount")}
          onNext={() => {
            const short = !covered;
            setNeedsDeposit(short);
            setStep(short ? "deposit" : "confirm");
          }}
        />
      )}

      {step === "deposit" && ok && (
        <DepositStep
          spec={spec}
          check={ok}
          balance={balance}
          coming={balances ? spec.coming(balances) : 0n}
          regtest={status?.network === "regtest"}
          onFund={async () => setBalances(await api.devnetFund(spec.playMoney(ok.shortfall)))}
          onBack={() => setStep("receive")}
          onNext={() => setStep("confirm")}
        />
      )}

      {step === "confirm" && offer && quote && ok && (
        <ConfirmStep
          spec={spec}
          offer={offer}
          timelock={spec.timelockText(quote)}
          check={ok}
          estimate={spec.estimate(status?.network ?? "mainnet", ok)}
          receiveAddress={receiveAddress}
          balance={balance}
          starting={starting}
          limit={limit}
          secondYes={secondYes}
          onSecondYes={setSecondYes}
          error={startError}
          onBack={() => setStep(needsDeposit ? "deposit" : "receive")}
          onStart={() => void start()}
        />
      )}
    </Stack>
  );
}

const STEP_LABEL: Record<StepId, string> = {
  offer: "Offer",
  amount: "Amount",
  receive: "Receive address",
  deposit: "Deposit",
  confirm: "Confirm",
};

/** The makers quoting this side, best price first. */
function OfferStep({ spec, selected, onPick }: { spec: SideSpec; selected: string | null; onPick: (o: OfferView) => void }) {
  const { offers, error, refresh } = useOffers();
  const sorted = useShownOffers(offers, spec.side, "price-best", { withReserveProof: false, amount: "" });
  const quoting = sorted.filter((o) => spec.quote(o) !== null);
  return (
    <Stack data-testid="wizard-offer">
      <Text>{spec.side === "buy" ? "Pick the maker to buy XMR from." : "Pick the maker to sell XMR to."}</Text>
      {error && <ErrorAlert error={error} title="Could not load offers" />}
      {offers === null && !error && <Loader size="sm" aria-label="Loading offers" />}
      {offers && quoting.length === 0 && (
        <Alert color="gray" data-testid="wizard-no-offers">
          {offers.length === 0 ? "No makers found yet." : spec.side === "buy" ? "No maker sells XMR right now." : "No maker buys XMR right now."}{" "}
          <Button variant="subtle" size="xs" onClick={() => void refresh()} data-testid="wizard-offers-refresh">
            Refresh
          </Button>
        </Alert>
      )}
      {quoting.length > 0 && <OffersTable offers={quoting} side={spec.side} selected={selected} pickLabel="Choose" onPick={onPick} />}
    </Stack>
  );
}

function AmountStep({
  spec,
  offer,
  quoteText,
  amount,
  onAmount,
  check,
  balance,
  onBack,
  onNext,
}: {
  spec: SideSpec;
  offer: OfferView;
  quoteText: string;
  amount: string;
  onAmount: (v: string) => void;
  check: AmountCheck | null;
  balance: bigint;
  onBack: () => void;
  onNext: () => void;
}) {
  const { balances } = useAppData();
  const [touched, setTouched] = useState(false);
  const side = spec.side;
  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (check?.ok) onNext();
  }
  return (
    <form onSubmit={submit} data-testid="wizard-amount">
      <Stack>
        <Text size="sm">
          Maker <b>{shortId(offer.peer)}</b>: {quoteText}
        </Text>
        <TextInput
          label={spec.amountLabel}
          description={spec.balanceText(balances)}
          placeholder={spec.amountPlaceholder}
          value={amount}
          onChange={(e) => onAmount(e.currentTarget.value)}
          onBlur={() => setTouched(true)}
          error={(touched || amount !== "") && check && !check.ok ? check.error : null}
          inputMode="decimal"
          autoComplete="off"
          data-testid={`${side}-amount`}
          autoFocus
        />
        {check?.ok && (
          <Alert color="blue" data-testid={`${side}-receive`}>
            You get <b data-testid={`${side}-${spec.gets}`}>{ASSETS[spec.gets].text(spec.gets === "btc" ? check.sat : check.piconero)}</b> before network fees
            {side === "buy" && offer.reserve_piconero !== null && units(offer.reserve_piconero) < check.piconero && (
              <Text size="sm" mt={4} c="orange" data-testid="buy-reserve-warning">
                This maker's proven reserve ({xmrText(offer.reserve_piconero)}) is less than that.
              </Text>
            )}
            {check.shortfall > 0n && (
              <Text size="sm" mt={4} data-testid={`${side}-shortfall`}>
                {spec.shortfallText(check, balance)}
              </Text>
            )}
          </Alert>
        )}
        <Group>
          <Button variant="default" onClick={onBack} data-testid="wizard-back">
            Back
          </Button>
          <Button type="submit" data-testid="wizard-next" disabled={!check?.ok}>
            Next
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function ReceiveStep({
  spec,
  mode,
  onMode,
  address,
  onAddress,
  onBack,
  onNext,
}: {
  spec: SideSpec;
  mode: ReceiveMode;
  onMode: (m: ReceiveMode) => void;
  address: string;
  onAddress: (v: string) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const [touched, setTouched] = useState(false);
  const missing = mode === "external" && address.trim() === "" ? spec.receive.missing : null;
  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (!missing) onNext();
  }
  return (
    <form onSubmit={submit} data-testid="wizard-receive">
      <Stack>
        <Radio.Group label={spec.receive.question} value={mode} onChange={(v) => onMode(v === "external" ? "external" : "builtin")}>
          <Stack gap="xs" mt="xs">
            <Radio value="builtin" label={spec.receive.builtin} data-testid="receive-builtin" />
            <Radio value="external" label={spec.receive.external} data-testid="receive-external" />
          </Stack>
        </Radio.Group>
        {mode === "external" && (
          <TextInput
            label={spec.receive.input}
            value={address}
            onChange={(e) => onAddress(e.currentTarget.value)}
            error={touched ? missing : null}
            autoComplete="off"
            spellCheck={false}
            data-testid="receive-address"
          />
        )}
        <Group>
          <Button variant="default" onClick={onBack}>
            Back
          </Button>
          <Button type="submit" data-testid="wizard-next">
            Next
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function DepositStep({
  spec,
  check,
  balance,
  coming,
  regtest,
  onFund,
  onBack,
  onNext,
}: {
  spec: SideSpec;
  check: OkCheck;
  balance: bigint;
  coming: bigint;
  regtest: boolean;
  onFund: () => Promise<void>;
  onBack: () => void;
  onNext: () => void;
}) {
  const [addresses, setAddresses] = useState<Addresses | null>(null);
  const [addressError, setAddressError] = useState<CommandError | null>(null);
  const [funding, setFunding] = useState(false);
  const [fundError, setFundError] = useState<CommandError | null>(null);
  const covered = check.shortfall === 0n;
  const asset = ASSETS[spec.pays];

  useEffect(() => {
    api
      .addresses()
      .then(setAddresses)
      .catch((e) => setAddressError(errorOf(e)));
  }, []);

  async function playMoney() {
    setFunding(true);
    setFundError(null);
    try {
      await onFund();
    } catch (err) {
      setFundError(errorOf(err));
    } finally {
      setFunding(false);
    }
  }

  const address = addresses ? addresses[spec.pays] : null;
  return (
    <Stack data-testid="wizard-deposit">
      <Alert color={covered ? "teal" : "yellow"} title={covered ? "Funds arrived" : spec.deposit.title} data-testid="deposit-status" data-covered={covered}>
        {covered ? spec.deposit.covered(balance) : spec.deposit.text(check.shortfall, coming)}
      </Alert>
      <Text size="sm" data-testid="deposit-balance" data-balance={balance.toString()} data-coming={coming.toString()}>
        {spec.pays === "btc" ? "Confirmed" : "Unlocked"}: {asset.text(balance)} · {spec.pays === "btc" ? "pending" : "not unlocked yet"}: {asset.text(coming)}
      </Text>
      {addressError && <ErrorAlert error={addressError} title="Could not get a deposit address" />}
      {address && (
        <Group align="flex-start">
          <QrCode value={`${asset.uri}${address}`} label={`QR code of your ${asset.chain} deposit address`} testId="deposit-qr" />
          <CopyField value={address} label={`Your ${asset.chain} deposit address`} testId="deposit-address" />
        </Group>
      )}
      {regtest && !covered && (
        <Group>
          <Button variant="light" color="grape" onClick={() => void playMoney()} loading={funding} data-testid="devnet-fund">
            Get play money
          </Button>
          <Text size="xs" c="dimmed">
            Regtest only: the local devnet sends you coins.
          </Text>
        </Group>
      )}
      {fundError && <ErrorAlert error={fundError} title="No play money" />}
      {!covered && (
        <Group gap="xs">
          <Loader size="xs" /> <Text size="sm">{spec.deposit.wait}</Text>
        </Group>
      )}
      <Group>
        <Button variant="default" onClick={onBack}>
          Back
        </Button>
        <Button disabled={!covered} onClick={onNext} data-testid="wizard-next">
          Next
        </Button>
      </Group>
    </Stack>
  );
}

function ConfirmStep({
  spec,
  offer,
  timelock,
  check,
  estimate,
  receiveAddress,
  balance,
  starting,
  limit,
  secondYes,
  onSecondYes,
  error,
  onBack,
  onStart,
}: {
  spec: SideSpec;
  offer: OfferView;
  timelock: string;
  check: OkCheck;
  estimate: SwapEstimate;
  receiveAddress: string | null;
  balance: bigint;
  starting: boolean;
  limit: bigint | null;
  secondYes: boolean;
  onSecondYes: (yes: boolean) => void;
  error: CommandError | null;
  onBack: () => void;
  onStart: () => void;
}) {
  const pays = ASSETS[spec.pays];
  const gets = ASSETS[spec.gets];
  const amountOf = (asset: "btc" | "xmr") => (asset === "btc" ? check.sat : check.piconero);
  const aboveLimit = limit !== null && amountOf(spec.pays) > limit;
  return (
    <Stack data-testid="wizard-confirm">
      <Table withTableBorder aria-label="Swap summary">
        <Table.Tbody>
          <Row label={spec.side === "buy" ? "You swap" : "You sell"} testId={`confirm-${spec.pays}`}>
            {pays.text(amountOf(spec.pays))}
          </Row>
          <Row label={`${pays.chain} network fee (your lock)`} testId={pays.lockFeeTestId}>
            about {pays.text(estimate.lockFee)}
          </Row>
          <Row label="You pay in all" testId="confirm-pay-total" strong>
            about {pays.text(estimate.payTotal)}
          </Row>
          <Row label="The maker locks" testId={`confirm-${spec.gets}`}>
            {gets.text(amountOf(spec.gets))}
          </Row>
          <Row label={`${gets.chain} network fee (the maker's lock)`} testId={gets.lockFeeTestId}>
            Paid by the maker, not taken from your {gets.code}
          </Row>
          <Row label={`${gets.chain} network fee (moving the ${gets.code} to you)`} testId={gets.claimFeeTestId}>
            about {gets.text(estimate.claimFee)}
          </Row>
          <Row label="You get" testId="confirm-get-net" strong>
            about {gets.text(estimate.getNet)}
          </Row>
          <Row label="Maker" testId="confirm-maker" breakAll>
            {offer.peer}
          </Row>
          <Row label={`${gets.code} goes to`} testId="confirm-receive" breakAll>
            {receiveAddress ?? `The ${spec.receive.builtinName}`}
          </Row>
          <Row label="If the swap stalls" testId="confirm-timelock">
            {timelock}
          </Row>
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed" data-testid="confirm-fee-note">
        {estimate.note}
      </Text>
      {check.shortfall > 0n && <Alert color="yellow">{spec.deposit.notCovered(balance)}</Alert>}
      {aboveLimit && (
        <Alert color="orange" title="A second confirmation" data-testid="confirm-above-limit">
          <Stack gap="xs">
            <Text size="sm">
              {pays.text(amountOf(spec.pays))} is more than your limit of {pays.text(limit)} for one swap (Settings).
            </Text>
            <Checkbox
              checked={secondYes}
              onChange={(e) => onSecondYes(e.currentTarget.checked)}
              label="I have checked the amount, the maker and where the coins go"
              data-testid="confirm-above-limit-yes"
            />
          </Stack>
        </Alert>
      )}
      {error && <ErrorAlert error={error} title="The swap did not start" testId={`${spec.side}-error`} />}
      <Group>
        <Button variant="default" onClick={onBack}>
          Back
        </Button>
        <Button onClick={onStart} loading={starting} disabled={aboveLimit && !secondYes} data-testid={`${spec.side}-submit`} color="teal">
          Start the swap
        </Button>
      </Group>
    </Stack>
  );
}

function Row({ label, testId, strong, breakAll, children }: { label: string; testId: string; strong?: boolean; breakAll?: boolean; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th>{label}</Table.Th>
      <Table.Td data-testid={testId} fw={strong ? 700 : undefined} style={breakAll ? { wordBreak: "break-all" } : undefined}>
        {children}
      </Table.Td>
    </Table.Tr>
  );
}
