//! The IPC table: the one declaration of every command the web UI can call and every event
//! it hears ([`ipc_table!`](crate::ipc_table)). From it come the [`AppEvent`] enum with its
//! names, the Tauri command handlers (`src-tauri` expands the table with its own callback
//! macro), and the TypeScript `Commands` and `Events` maps plus one typed function per command
//! (`ui/src/bindings/ipc.ts`, written by `cargo test -p confiaro-app export_bindings`, which
//! the test command refuses when stale). A command added, renamed, or given another argument
//! here changes all three at once.

#[cfg(test)]
use ts_rs::{Config, TS};

use crate::ipc::*;

/// Calls the macro named `$then` with the IPC table. Each command line reads
/// `name: kind method(Request) -> Answer;` where `name` is the command's IPC name, `method`
/// the [`App`](crate::App) method that answers it, `Request` its one argument (`request` on
/// the wire; none when the parentheses are empty) and `kind` how the method answers:
/// `value` (synchronously, cannot fail), `result` (synchronously, `Result<Answer,
/// CommandError>`) or `async_result` (an `async fn` returning that `Result`). Each event line
/// reads `Variant = "ipc-name": Payload;`. The types are those of [`crate::ipc`]: expand the
/// table where they are in scope.
#[macro_export]
macro_rules! ipc_table {
    ($then:ident) => {
        $then! {
            commands {
                /// The app's stage (first run, locked, starting, ready, failed) and network.
                app_status: value status() -> AppStatus;
                /// Creates (or restores) the wallet; the app then starts (`app-status` events).
                create_wallet: async_result create_wallet(CreateWallet) -> NewWallet;
                /// Unlocks the wallet; usually answers `starting`, `app-status` events follow.
                unlock: async_result unlock(Unlock) -> AppStatus;
                /// The saved settings.
                get_settings: result get_settings() -> Settings;
                /// Saves the settings (used from the next start).
                save_settings: result save_settings(Settings) -> Settings;
                /// Tests the chain sources and monero-wallet-rpc of settings (saved or not).
                test_connections: async_result test_connections(Settings) -> ConnectionCheck;
                /// The makers' offers.
                offers: async_result offers() -> Vec<OfferView>;
                /// Starts a swap buying XMR with BTC.
                buy_xmr: async_result buy_xmr(BuyXmr) -> SwapDetail;
                /// Starts a swap selling XMR for BTC.
                sell_xmr: async_result sell_xmr(SellXmr) -> SwapDetail;
                /// Every swap, newest first.
                swaps: async_result swaps() -> Vec<SwapDetail>;
                /// One swap.
                swap: async_result swap(SwapRef) -> SwapDetail;
                /// Cancels a swap and refunds its BTC (once the timelock allows).
                cancel_refund: async_result cancel_refund(SwapRef) -> SwapDetail;
                /// Aborts a swap before anything is locked.
                abort_swap: async_result abort_swap(SwapRef) -> SwapDetail;
                /// Writes a swap's receipt to a file.
                export_receipt: async_result export_receipt(SwapRef) -> ReceiptExport;
                /// The wallets' balances.
                balances: async_result balances() -> Balances;
                /// The wallets' receive addresses.
                addresses: async_result addresses() -> Addresses;
                /// Sends BTC or XMR out of the wallet.
                withdraw: async_result withdraw(Withdraw) -> Sent;
                /// Regtest only: play money from the app's own devnet.
                devnet_fund: async_result devnet_fund(DevnetFund) -> Balances;
                /// The log, oldest first.
                logs: value logs() -> Vec<LogLine>;
                /// Writes the redacted log to a file.
                export_logs: result export_logs() -> LogExport;
            }
            events {
                /// The app's stage changed.
                Status = "app-status": AppStatus;
                /// A swap changed (after every change of a swap).
                Swap = "swap": Box<SwapDetail>;
                /// A log line.
                Log = "log": LogLine;
                /// The balances may have changed (after every new block and swap change).
                Balances = "balances": Balances;
            }
        }
    };
}

/// The app's side of the table: [`AppEvent`] and the table as data for the generator.
macro_rules! app_side {
    (
        commands {
            $( $(#[doc = $command_doc:literal])*
               $command:ident : $kind:ident $method:ident ( $($request:ty)? ) -> $answer:ty ; )*
        }
        events {
            $( $(#[doc = $event_doc:literal])* $variant:ident = $event:literal : $payload:ty ; )*
        }
    ) => {
        /// Something the UI should hear about, without asking: one variant per event of the
        /// IPC table. It serializes as its payload alone; [`AppEvent::name`] is the channel.
        #[derive(Debug, Clone, serde::Serialize)]
        #[serde(untagged)]
        pub enum AppEvent {
            $( $(#[doc = $event_doc])* $variant($payload), )*
        }

        impl AppEvent {
            /// The event's name on the IPC channel.
            pub fn name(&self) -> &'static str {
                match self {
                    $( AppEvent::$variant(_) => $event, )*
                }
            }
        }

        #[cfg(test)]
        fn command_specs(cfg: &Config) -> Vec<generator::CommandSpec> {
            vec![$(
                generator::CommandSpec {
                    name: stringify!($command),
                    doc: vec![$($command_doc),*],
                    request: None::<String> $( .or(Some(<$request as TS>::name(cfg))) )?,
                    answer: <$answer as TS>::name(cfg),
                },
            )*]
        }

        #[cfg(test)]
        fn event_specs(cfg: &Config) -> Vec<generator::EventSpec> {
            vec![$(
                generator::EventSpec {
                    name: $event,
                    doc: vec![$($event_doc),*],
                    payload: <$payload as TS>::name(cfg),
                },
            )*]
        }
    };
}

crate::ipc_table!(app_side);

/// The TypeScript side of the table (written by the tests: nothing in the app needs it).
#[cfg(test)]
mod generator {
    use super::*;

    /// One command of the table, as the TypeScript generator sees it.
    pub(super) struct CommandSpec {
        pub(super) name: &'static str,
        pub(super) doc: Vec<&'static str>,
        pub(super) request: Option<String>,
        pub(super) answer: String,
    }

    /// One event of the table, as the TypeScript generator sees it.
    pub(super) struct EventSpec {
        pub(super) name: &'static str,
        pub(super) doc: Vec<&'static str>,
        pub(super) payload: String,
    }

    /// `snake_case` to `camelCase`.
    fn camel_case(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// A JSDoc comment from doc lines, indented by `indent`.
    fn js_doc(doc: &[&str], indent: &str) -> String {
        let text: Vec<&str> = doc.iter().map(|line| line.trim()).collect();
        format!("{indent}/** {} */\n", text.join(" "))
    }

    /// The generated types each TypeScript type expression names (`Array<OfferView>`: `OfferView`).
    fn named_types<'a>(
        expressions: impl Iterator<Item = &'a str>,
    ) -> std::collections::BTreeSet<String> {
        expressions
            .flat_map(|e| e.split(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
            .filter(|word| word.starts_with(|c: char| c.is_ascii_uppercase()) && *word != "Array")
            .map(str::to_owned)
            .collect()
    }

    /// `ui/src/bindings/ipc.ts`: the TypeScript side of the IPC table.
    pub(super) fn typescript(cfg: &Config) -> String {
        let commands = command_specs(cfg);
        let events = event_specs(cfg);
        let mut ts = String::from(
            "// Generated from the IPC table in crates/app/src/ipc_table.rs by `cargo test -p \
             confiaro-app export_bindings`. Do not edit this file manually.\n\n",
        );
        let types = named_types(
            commands
                .iter()
                .flat_map(|c| c.request.iter().chain([&c.answer]))
                .chain(events.iter().map(|e| &e.payload))
                .map(String::as_str),
        );
        for name in &types {
            ts += &format!("import type {{ {name} }} from \"./{name}\";\n");
        }
        ts += "\n/** Every command: its request (`void`: none) and its answer. */\nexport interface Commands {\n";
        for c in &commands {
            ts += &js_doc(&c.doc, "  ");
            let request = c.request.as_deref().unwrap_or("void");
            ts += &format!(
                "  {}: {{ request: {request}; answer: {} }};\n",
                c.name, c.answer
            );
        }
        ts += "}\nexport type CommandName = keyof Commands;\n\n";
        ts += "/** Every event and its payload. */\nexport interface Events {\n";
        for e in &events {
            ts += &js_doc(&e.doc, "  ");
            ts += &format!("  {:?}: {};\n", e.name, e.payload);
        }
        ts += "}\nexport type EventName = keyof Events;\n\n";
        ts += "/** Calls one command (the `request` argument only when it takes one). */\n\
               export type Call = <C extends CommandName>(\n  command: C,\n  \
               ...request: Commands[C][\"request\"] extends void ? [] : [Commands[C][\"request\"]]\n\
               ) => Promise<Commands[C][\"answer\"]>;\n\n";
        ts += "/** One function per command, in camelCase, calling it through `call`. */\n\
               export function commandFunctions(call: Call) {\n  return {\n";
        for c in &commands {
            match &c.request {
                Some(request) => {
                    ts += &format!(
                        "    {}: (request: {request}) => call({:?}, request),\n",
                        camel_case(c.name),
                        c.name
                    )
                }
                None => ts += &format!("    {}: () => call({:?}),\n", camel_case(c.name), c.name),
            }
        }
        ts += "  };\n}\n";
        ts
    }
}

#[cfg(test)]
mod tests {
    use super::generator::typescript;
    use super::*;

    /// Writes `ui/src/bindings/ipc.ts` (named like ts-rs's own export tests, so the test
    /// command's `export_bindings` run writes it with the rest and refuses a stale copy).
    #[test]
    fn export_bindings_ipc_table() {
        let cfg = Config::from_env();
        let path = cfg.out_dir().join("ipc.ts");
        std::fs::write(&path, typescript(&cfg)).expect("writes ipc.ts");
    }

    #[test]
    fn every_command_and_event_is_in_the_typescript() {
        let ts = typescript(&Config::default());
        assert!(ts.contains("  buy_xmr: { request: BuyXmr; answer: SwapDetail };"));
        assert!(ts.contains("  swaps: { request: void; answer: Array<SwapDetail> };"));
        assert!(ts.contains("    buyXmr: (request: BuyXmr) => call(\"buy_xmr\", request),"));
        assert!(ts.contains("    sellXmr: (request: SellXmr) => call(\"sell_xmr\", request),"));
        assert!(ts.contains("    appStatus: () => call(\"app_status\"),"));
        assert!(ts.contains("  \"app-status\": AppStatus;"));
        assert!(ts.contains("  \"swap\": SwapDetail;"));
        assert!(ts.contains("import type { OfferView } from \"./OfferView\";"));
        // every command once in the map and once as a function
        assert_eq!(ts.matches("; answer: ").count(), 20);
        assert_eq!(ts.matches(" => call(").count(), 20);
    }

    #[test]
    fn an_event_serializes_as_its_payload_under_its_name() {
        let event = AppEvent::Log(LogLine {
            at_ms: "1".into(),
            level: Level::Info,
            swap_id: None,
            message: "hello".into(),
        });
        assert_eq!(event.name(), "log");
        assert_eq!(serde_json::to_value(&event).unwrap()["message"], "hello");
    }
}
