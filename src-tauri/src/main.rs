//! The Confiaro desktop app: a Tauri 2 window whose web UI (`ui/`) calls the commands of
//! [`confiaro_app::App`] and hears its events. Everything here is glue: one command per
//! `App` method, and `App`'s events emitted to the window under their IPC names.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;

use confiaro_app::ipc::*;
use confiaro_app::{App, AppEvent};
use tauri::{Emitter as _, Manager as _, State};

type Answer<T> = Result<T, CommandError>;

#[tauri::command]
fn app_status(app: State<'_, App>) -> AppStatus {
    app.status()
}

#[tauri::command]
async fn create_wallet(app: State<'_, App>, request: CreateWallet) -> Answer<NewWallet> {
    app.create_wallet(request).await
}

#[tauri::command]
async fn unlock(app: State<'_, App>, request: Unlock) -> Answer<AppStatus> {
    app.unlock(request).await
}

#[tauri::command]
fn get_settings(app: State<'_, App>) -> Answer<Settings> {
    app.get_settings()
}

#[tauri::command]
fn save_settings(app: State<'_, App>, request: Settings) -> Answer<Settings> {
    app.save_settings(request)
}

#[tauri::command]
async fn offers(app: State<'_, App>) -> Answer<Vec<OfferView>> {
    app.offers().await
}

#[tauri::command]
async fn buy_xmr(app: State<'_, App>, request: BuyXmr) -> Answer<SwapDetail> {
    app.buy_xmr(request).await
}

#[tauri::command]
async fn swaps(app: State<'_, App>) -> Answer<Vec<SwapDetail>> {
    app.swaps().await
}

#[tauri::command]
async fn swap(app: State<'_, App>, request: SwapRef) -> Answer<SwapDetail> {
    app.swap(request).await
}

#[tauri::command]
async fn cancel_refund(app: State<'_, App>, request: SwapRef) -> Answer<SwapDetail> {
    app.cancel_refund(request).await
}

#[tauri::command]
async fn abort_swap(app: State<'_, App>, request: SwapRef) -> Answer<SwapDetail> {
    app.abort_swap(request).await
}

#[tauri::command]
async fn export_receipt(app: State<'_, App>, request: SwapRef) -> Answer<ReceiptExport> {
    app.export_receipt(request).await
}

#[tauri::command]
async fn balances(app: State<'_, App>) -> Answer<Balances> {
    app.balances().await
}

#[tauri::command]
async fn addresses(app: State<'_, App>) -> Answer<Addresses> {
    app.addresses().await
}

#[tauri::command]
async fn withdraw(app: State<'_, App>, request: Withdraw) -> Answer<Sent> {
    app.withdraw(request).await
}

#[tauri::command]
async fn devnet_fund(app: State<'_, App>, request: DevnetFund) -> Answer<Balances> {
    app.devnet_fund(request).await
}

#[tauri::command]
fn logs(app: State<'_, App>) -> Vec<LogLine> {
    app.logs()
}

#[tauri::command]
fn export_logs(app: State<'_, App>) -> Answer<LogExport> {
    app.export_logs()
}

/// Emits one app event to every window under its IPC name.
fn emit(handle: &tauri::AppHandle, event: AppEvent) {
    let name = event.name();
    let sent = match event {
        AppEvent::Status(status) => handle.emit(name, status),
        AppEvent::Swap(swap) => handle.emit(name, swap),
        AppEvent::Log(line) => handle.emit(name, line),
        AppEvent::Balances(balances) => handle.emit(name, balances),
    };
    if let Err(e) = sent {
        eprintln!("confiaro-desktop: emitting {name}: {e}");
    }
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONFIARO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let app = tauri::Builder::default()
        .setup(|tauri_app| {
            let handle = tauri_app.handle().clone();
            let sink = Arc::new(move |event| emit(&handle, event));
            let app = App::new(App::default_dir(), sink)?;
            tauri_app.manage(app);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            app_status,
            create_wallet,
            unlock,
            get_settings,
            save_settings,
            offers,
            buy_xmr,
            swaps,
            swap,
            cancel_refund,
            abort_swap,
            export_receipt,
            balances,
            addresses,
            withdraw,
            devnet_fund,
            logs,
            export_logs,
        ])
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("confiaro-desktop: cannot start: {e}");
            std::process::exit(1)
        });
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(app) = handle.try_state::<App>() {
                tauri::async_runtime::block_on(app.shutdown());
            }
        }
    });
}
