import { describe, expect, it } from "vitest";
import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { App } from "../../src/App";
import { COLOR_SCHEME_KEY } from "../../src/Providers";
import { renderWithFake } from "./render";
import { setSystemDark } from "../setup";

describe("app stages", () => {
  it("shows what it waits for before the backend answers", () => {
    renderWithFake(<App />, { stage: { stage: "locked" } });
    expect(screen.getByTestId("screen-connecting").textContent).toMatch(/Waiting for the app's backend/);
  });

  it("shows a wrong password's message and next step", async () => {
    renderWithFake(<App />, { stage: { stage: "locked" }, password: "right password" });
    fireEvent.change(await screen.findByTestId("unlock-password"), { target: { value: "nope" } });
    fireEvent.click(screen.getByTestId("unlock-submit"));
    expect((await screen.findByTestId("unlock-error-message")).textContent).toBe("Wrong password");
    expect(screen.getByTestId("unlock-error-next-step").textContent).toMatch(/^Next step: Type the password/);
  });

  it("creates a wallet, shows the words until confirmed, then the starting stage", async () => {
    const { fake } = renderWithFake(<App />);
    fireEvent.change(await screen.findByTestId("setup-password"), { target: { value: "Correct horse 42!" } });
    fireEvent.change(screen.getByTestId("setup-password2"), { target: { value: "Correct horse 42!" } });
    fireEvent.click(screen.getByTestId("setup-submit"));
    expect((await screen.findByTestId("words-list")).textContent).toContain("12. accident");
    expect(fake.calls.find((c) => c.command === "create_wallet")?.request).toEqual({ network: "regtest", password: "Correct horse 42!", restore_words: null, accept_real_money: false });
    const done = screen.getByTestId("words-done") as HTMLButtonElement;
    expect(done.disabled).toBe(true);
    fireEvent.click(screen.getByTestId("words-confirm"));
    fireEvent.click(done);
    expect((await screen.findByTestId("starting-step")).textContent).toMatch(/devnet/);
    act(() => fake.setStage({ stage: "failed", error: "bitcoind did not start", next_step: "Check port 18443 is free." }));
    expect((await screen.findByTestId("failed-error-next-step")).textContent).toMatch(/18443/);
  });

  it("refuses mismatched passwords without calling the backend", async () => {
    const { fake } = renderWithFake(<App />);
    fireEvent.change(await screen.findByTestId("setup-password"), { target: { value: "Correct horse 42!" } });
    fireEvent.change(screen.getByTestId("setup-password2"), { target: { value: "Correct horse 43!" } });
    fireEvent.click(screen.getByTestId("setup-submit"));
    expect(await screen.findByText("The passwords differ")).toBeTruthy();
    expect(fake.calls.some((c) => c.command === "create_wallet")).toBe(false);
  });
});

describe("theme toggle", () => {
  it("defaults to the system scheme, toggles and persists the choice", async () => {
    setSystemDark(true);
    try {
      renderWithFake(<App />, { stage: { stage: "ready" } });
      await screen.findByTestId("nav-offers");
      const toggle = screen.getByTestId("theme-toggle");
      await waitFor(() => expect(document.documentElement.getAttribute("data-mantine-color-scheme")).toBe("dark"));
      expect(toggle.getAttribute("aria-label")).toBe("Switch to light theme");
      fireEvent.click(toggle);
      await waitFor(() => expect(document.documentElement.getAttribute("data-mantine-color-scheme")).toBe("light"));
      expect(localStorage.getItem(COLOR_SCHEME_KEY)).toBe("light");
      expect(screen.getByTestId("theme-toggle").getAttribute("aria-label")).toBe("Switch to dark theme");
    } finally {
      setSystemDark(false);
    }
  });
});

describe("ready shell", () => {
  it("navigates with buttons and shows balances from events", async () => {
    const { fake } = renderWithFake(<App />, { stage: { stage: "ready" } });
    fireEvent.click(await screen.findByTestId("nav-wallets"));
    await waitFor(() => expect(screen.getByTestId("balance-btc-confirmed").textContent).toBe("0 BTC"));
    act(() => fake.setBalances({ btc_confirmed_sat: "1", btc_pending_sat: "0", xmr_total_piconero: "18446744073709551615", xmr_unlocked_piconero: "1" }));
    expect(screen.getByTestId("balance-btc-confirmed").textContent).toBe("0.00000001 BTC");
    expect(screen.getByTestId("balance-xmr-total").textContent).toBe("18446744.073709551615 XMR");
    expect(screen.getByTestId("nav-wallets").getAttribute("aria-current")).toBe("page");
  });
});

describe("buy and sell navigation", () => {
  it("has Buy XMR and Sell XMR entries opening the wizard for each side", async () => {
    renderWithFake(<App />, { stage: { stage: "ready" } });
    expect((await screen.findByTestId("nav-swap")).textContent).toBe("Buy XMR");
    expect(screen.getByTestId("nav-sell").textContent).toBe("Sell XMR");
    expect(screen.queryByText("Swap", { selector: "nav *" })).toBeNull();
    fireEvent.click(screen.getByTestId("nav-sell"));
    expect((await screen.findByTestId("screen-swap")).getAttribute("data-side")).toBe("sell");
    expect(screen.getByRole("heading", { name: "Sell XMR" })).toBeTruthy();
    expect(screen.getByTestId("nav-sell").getAttribute("aria-current")).toBe("page");
    expect(screen.getByTestId("nav-swap").getAttribute("aria-current")).toBeNull();
    fireEvent.click(screen.getByTestId("nav-swap"));
    await waitFor(() => expect(screen.getByTestId("screen-swap").getAttribute("data-side")).toBe("buy"));
    expect(screen.getByRole("heading", { name: "Buy XMR" })).toBeTruthy();
  });

  it("picks a maker on the Offers screen's sell side into the sell wizard, and remembers the side", async () => {
    renderWithFake(<App />, { stage: { stage: "ready" } });
    fireEvent.click(await screen.findByTestId("offers-side-sell"));
    await waitFor(() => expect(screen.getAllByTestId("offer-price")[0]!.textContent).toBe("156.25 XMR"));
    fireEvent.click(screen.getAllByTestId("offer-pick")[0]!);
    expect(await screen.findByTestId("sell-amount")).toBeTruthy();
    expect(screen.getByTestId("nav-sell").getAttribute("aria-current")).toBe("page");
    fireEvent.click(screen.getByTestId("nav-offers"));
    await waitFor(() => expect(screen.getAllByTestId("offer-price")[0]!.textContent).toBe("156.25 XMR"));
  });
});
