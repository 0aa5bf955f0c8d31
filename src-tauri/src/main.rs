//! The Confiaro desktop app: a Tauri 2 window whose web UI (`ui/`) calls the commands of
//! [`confiaro_app::App`] and hears its events. Everything here is glue, generated from the
//! app's IPC table (`confiaro_app::ipc_table!`): one command per `App` method, and `App`'s
//! events emitted to the window under their IPC names.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::Arc;

use confiaro_app::ipc::*;
use confiaro_app::{App, AppEvent};
use tauri::{Emitter as _, Manager as _, State};

type Answer<T> = Result<T, CommandError>;

/// The shell's side of the IPC table: one Tauri command per table line, calling the `App`
/// method the line names, and [`handlers`] registering them all.
macro_rules! tauri_side {
    (
        commands {
            $( $(#[doc = $doc:literal])*
               $command:ident : $kind:ident $method:ident ( $($request:ty)? ) -> $answer:ty ; )*
        }
        events { $($events:tt)* }
    ) => {
        $( tauri_command!($(#[doc = $doc])* $kind $command $method ($($request)?) -> $answer); )*

        /// Every command of the IPC table.
        fn handlers() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($command),*]
        }
    };
}

/// One Tauri command: its arguments and the call by `kind` (see `confiaro_app::ipc_table`).
macro_rules! tauri_command {
    ($(#[$doc:meta])* value $command:ident $method:ident () -> $answer:ty) => {
        $(#[$doc])*
        #[tauri::command]
        fn $command(app: State<'_, App>) -> $answer {
            app.$method()
        }
    };
    ($(#[$doc:meta])* result $command:ident $method:ident () -> $answer:ty) => {
        $(#[$doc])*
        #[tauri::command]
        fn $command(app: State<'_, App>) -> Answer<$answer> {
            app.$method()
        }
    };
    ($(#[$doc:meta])* result $command:ident $method:ident ($request:ty) -> $answer:ty) => {
        $(#[$doc])*
        #[tauri::command]
        fn $command(app: State<'_, App>, request: $request) -> Answer<$answer> {
            app.$method(request)
        }
    };
    ($(#[$doc:meta])* async_result $command:ident $method:ident () -> $answer:ty) => {
        $(#[$doc])*
        #[tauri::command]
        async fn $command(app: State<'_, App>) -> Answer<$answer> {
            app.$method().await
        }
    };
    ($(#[$doc:meta])* async_result $command:ident $method:ident ($request:ty) -> $answer:ty) => {
        $(#[$doc])*
        #[tauri::command]
        async fn $command(app: State<'_, App>, request: $request) -> Answer<$answer> {
            app.$method(request).await
        }
    };
}

confiaro_app::ipc_table!(tauri_side);

/// Emits one app event to every window under its IPC name (it serializes as its payload).
fn emit(handle: &tauri::AppHandle, event: AppEvent) {
    let name = event.name();
    if let Err(e) = handle.emit(name, &event) {
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
        .invoke_handler(handlers())
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
