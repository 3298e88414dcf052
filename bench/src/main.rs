//! `make bench`: every function's release bootstrap under a loopback Lambda Runtime API,
//! against DynamoDB Local and the local SES. See docs/performance.md.

mod proxy;
mod report;
mod stats;
mod workload;

use anyhow::Context;
use application::ports::Outgoing;
use application::ports::SecretSealer as _;
use bench::{floors, process, runtime_api};
use infrastructure::{SENDER_EMAIL, TABLE_NAME};
use process::{cpu_ticks, lambda_environment, launch, peak_rss_kib, stop};
use proxy::Calls;
use report::{Results, RoundSample};
use runtime_api::RuntimeApi;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use workload::{FUNCTIONS, Round};

const INIT_LIMIT: Duration = Duration::from_secs(20);
const INVOCATION_LIMIT: Duration = Duration::from_secs(30);

/// What to run, from `BENCH_*` variables, and where the local stack is, from local.env's.
struct Settings {
    rounds: usize,
    warm_invocations: usize,
    cold_starts: usize,
    count_invocations: usize,
    functions: Vec<&'static str>,
    bin_dir: PathBuf,
    zip_dir: PathBuf,
    out_dir: PathBuf,
    function_env: Vec<(String, String)>,
    table: String,
    sender: String,
    dynamodb_endpoint: String,
    ses_endpoint: String,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .ok()
            .with_context(|| format!("{name}={value} is not valid")),
        Err(_) => Ok(default),
    }
}

fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (see .devstack/local.env)"))
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let only: Option<Vec<String>> = std::env::var("BENCH_FUNCTIONS")
            .ok()
            .filter(|value| !value.trim().is_empty())
            .map(|value| {
                value
                    .split(',')
                    .map(|name| name.trim().to_owned())
                    .collect()
            });
        if let Some(unknown) = only
            .iter()
            .flatten()
            .find(|name| !FUNCTIONS.contains(&name.as_str()))
        {
            anyhow::bail!("BENCH_FUNCTIONS names {unknown}, which the bench does not know");
        }
        let functions = FUNCTIONS
            .into_iter()
            .filter(|name| {
                only.as_ref()
                    .is_none_or(|only| only.iter().any(|o| o == name))
            })
            .collect();
        let function_env = std::env::var("BENCH_FUNCTION_ENV")
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Ok(Self {
            rounds: setting("BENCH_ROUNDS", 3)?,
            warm_invocations: setting("BENCH_INVOCATIONS", 1000)?,
            cold_starts: setting("BENCH_COLD_STARTS", 10)?,
            count_invocations: setting("BENCH_COUNT_INVOCATIONS", 20)?,
            functions,
            bin_dir: setting(
                "BENCH_BIN_DIR",
                "target/x86_64-unknown-linux-gnu/release".into(),
            )?,
            zip_dir: setting("BENCH_ZIP_DIR", "target/bench/zips".into())?,
            out_dir: setting("BENCH_OUT", "target/bench".into())?,
            function_env,
            table: required(TABLE_NAME)?,
            sender: required(SENDER_EMAIL)?,
            dynamodb_endpoint: required("AWS_ENDPOINT_URL_DYNAMODB")?,
            ses_endpoint: required("AWS_ENDPOINT_URL_SESV2")?,
        })
    }

    fn describe(&self) -> serde_json::Value {
        json!({
            "rounds": self.rounds,
            "warm_invocations": self.warm_invocations,
            "cold_starts": self.cold_starts + 1,
            "count_invocations": self.count_invocations,
            "function_env": self.function_env.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>(),
        })
    }
}

/// One function process, from spawn to kill.
struct ProcessRun {
    init_ms: f64,
    durations_ms: Vec<f64>,
    peak_rss_kib: u64,
    cpu_ms_per_1000: f64,
}

/// A running function process under its own Runtime API; killed when dropped.
struct Process {
    function: &'static str,
    api: RuntimeApi,
    child: Child,
    init_ms: f64,
    durations_ms: Vec<f64>,
    ticks_after_first: u64,
}

impl Process {
    /// Invocation `index` of the function's workload; its duration in milliseconds.
    async fn invoke(&mut self, round: &mut Round, index: usize) -> anyhow::Result<f64> {
        let event = round.event(self.function, index)?;
        let invocation = self.api.invoke(&event, INVOCATION_LIMIT).await?;
        round.record(self.function, index, &invocation.response)?;
        let duration_ms = invocation.duration.as_secs_f64() * 1000.0;
        self.durations_ms.push(duration_ms);
        if self.durations_ms.len() == 1 {
            self.ticks_after_first = cpu_ticks(self.child.id())?;
        }
        Ok(duration_ms)
    }

    /// One turn: `TURN` invocations, the `offset`th of the workload's `index(round, offset)`.
    async fn invoke_turn(
        &mut self,
        round: &mut Round,
        index: impl Fn(&Round, usize) -> usize,
    ) -> anyhow::Result<Vec<f64>> {
        let mut durations = Vec::with_capacity(TURN);
        for offset in 0..TURN {
            let index = index(round, offset);
            durations.push(self.invoke(round, index).await?);
        }
        Ok(durations)
    }

    /// What the process measured; the CPU is counted from the end of the first invocation.
    fn finish(mut self, ms_per_tick: f64) -> anyhow::Result<ProcessRun> {
        let pid = self.child.id();
        let warm = self.durations_ms.len().saturating_sub(1).max(1) as f64;
        let cpu_ms = (cpu_ticks(pid)? - self.ticks_after_first) as f64 * ms_per_tick;
        Ok(ProcessRun {
            init_ms: self.init_ms,
            peak_rss_kib: peak_rss_kib(pid)?,
            cpu_ms_per_1000: cpu_ms / warm * 1000.0,
            durations_ms: std::mem::take(&mut self.durations_ms),
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

struct Bench {
    settings: Settings,
    ms_per_tick: f64,
    dynamodb: aws_sdk_dynamodb::Client,
    /// `Bearer <token>` of the bench's administrator (see `workload::admin_authorization`).
    authorization: Option<String>,
    ses: aws_sdk_sesv2::Client,
    results: Results,
}

/// What one turn of `Bench::measure_beside_floors` runs, `TURN` times each, in an order that
/// rotates from turn to turn.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Function,
    EmptyLambda,
    FloorLambda,
    BareFloors,
}

impl Group {
    const ALL: [Group; 4] = [
        Group::Function,
        Group::EmptyLambda,
        Group::FloorLambda,
        Group::BareFloors,
    ];

    /// `groups` in turn `turn`'s order: the list rotated by one each turn.
    fn in_turn(groups: &[Group], turn: usize) -> impl Iterator<Item = Group> + '_ {
        let count = groups.len();
        (0..count).map(move |position| groups[(turn + position) % count])
    }
}

/// Invocations of each in one turn of `Bench::measure_beside_floors`.
const TURN: usize = 50;

/// The functions with a target relative to their floors.
const BESIDE_FLOORS: [&str; 2] = ["create-user", "get-user"];

impl Bench {
    fn log_path(&self, function: &str) -> PathBuf {
        self.settings
            .out_dir
            .join("logs")
            .join(format!("{function}.log"))
    }

    /// What an error of `function` says, so its log can be found.
    fn log_context(&self, function: &str) -> String {
        format!("{function} (log: {})", self.log_path(function).display())
    }

    /// Starts `function` and waits for the end of its init; the DynamoDB calls made in it
    /// when `calls_in_init` counts them.
    async fn start(
        &self,
        function: &'static str,
        dynamodb_endpoint: &str,
        calls_in_init: Option<&Calls>,
    ) -> anyhow::Result<(Process, BTreeMap<String, u64>)> {
        let api = RuntimeApi::start(function).await?;
        let mut own = vec![
            (TABLE_NAME.to_owned(), self.settings.table.clone()),
            (SENDER_EMAIL.to_owned(), self.settings.sender.clone()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB".to_owned(),
                dynamodb_endpoint.to_owned(),
            ),
            (
                "AWS_ENDPOINT_URL_SESV2".to_owned(),
                self.settings.ses_endpoint.clone(),
            ),
        ];
        // The access-token settings of the local stack, as `make test` gives them, its key for
        // sealing tokens (moto's KMS), and its passkey relying party.
        for name in [
            "JWT_ISSUER",
            "JWT_AUDIENCE",
            "JWT_PUBLIC_KEYS",
            "JWT_SIGNING_KID",
            "JWT_SIGNING_KEY",
            "AWS_ENDPOINT_URL_KMS",
            "SECRETS_KEY_ID",
            "WEBAUTHN_RP_ID",
            "WEBAUTHN_ORIGINS",
        ] {
            if let Ok(value) = std::env::var(name) {
                own.push((name.to_owned(), value));
            }
        }
        if let Some(daemon) = xray_daemon() {
            own.push(("AWS_XRAY_DAEMON_ADDRESS".to_owned(), daemon));
        }
        own.extend(self.settings.function_env.iter().cloned());
        let environment = lambda_environment(function, &api.address(), &own);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(function))?;
        let binary = self.settings.bin_dir.join(function);
        let launched = Instant::now();
        let mut process = Process {
            function,
            api,
            child: launch(&binary, &environment, &log)?,
            init_ms: 0.0,
            durations_ms: Vec::new(),
            ticks_after_first: 0,
        };
        let initialized = process
            .api
            .initialized(INIT_LIMIT)
            .await
            .with_context(|| self.log_context(function))?;
        process.init_ms = (initialized - launched).as_secs_f64() * 1000.0;
        let init_calls = calls_in_init.map(Calls::take).unwrap_or_default();
        Ok((process, init_calls))
    }

    /// Runs `indices` of `function`'s workload in one fresh process.
    async fn run_process(
        &self,
        function: &'static str,
        round: &mut Round,
        indices: Range<usize>,
        dynamodb_endpoint: &str,
        calls_in_init: Option<&Calls>,
    ) -> anyhow::Result<(ProcessRun, BTreeMap<String, u64>)> {
        let (mut process, init_calls) = self
            .start(function, dynamodb_endpoint, calls_in_init)
            .await?;
        let run = async {
            for index in indices {
                process.invoke(round, index).await?;
            }
            process.finish(self.ms_per_tick)
        }
        .await;
        let run = run.with_context(|| self.log_context(function))?;
        Ok((run, init_calls))
    }

    /// Cold starts (each a fresh process and one invocation), then one process for the warm
    /// invocations.
    async fn measure(
        &self,
        function: &'static str,
        round: &mut Round,
    ) -> anyhow::Result<RoundSample> {
        let endpoint = self.settings.dynamodb_endpoint.clone();
        let mut sample = RoundSample::default();
        let cold = self.settings.cold_starts;
        for index in 0..cold {
            let (run, _) = self
                .run_process(function, round, index..index + 1, &endpoint, None)
                .await?;
            sample.init_ms.push(run.init_ms);
            sample.first_ms.push(run.durations_ms[0]);
        }
        let long = cold..cold + 1 + self.settings.warm_invocations;
        let (run, _) = self
            .run_process(function, round, long, &endpoint, None)
            .await?;
        sample.init_ms.push(run.init_ms);
        sample.first_ms.push(run.durations_ms[0]);
        sample.warm_ms = run.durations_ms[1..].to_vec();
        sample.peak_rss_kib = run.peak_rss_kib;
        sample.cpu_ms_per_1000 = run.cpu_ms_per_1000;
        Ok(sample)
    }

    /// What `function`'s workload needs that no function before it in the round makes, written
    /// untimed.
    async fn prepare(&self, function: &str, round: &mut Round) -> anyhow::Result<()> {
        match function {
            "confirm-password-reset" => self.tokens_from_outbox(round).await,
            "finish-login" => self.two_step_challenges(round).await,
            "start-passkey-registration" => {
                workload::sign_in_users(&self.dynamodb, &self.settings.table, round).await
            }
            _ => Ok(()),
        }
    }

    /// The reset emails wait in the outbox (no mailer runs under the bench): their tokens
    /// are opened from the outbox items, as the mailer would.
    async fn tokens_from_outbox(&self, round: &mut Round) -> anyhow::Result<()> {
        let sealer = infrastructure::Aws::from_env().await.secret_sealer()?;
        let mut emails = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.settings.table)
                .filter_expression("entity = :outbox")
                .expression_attribute_values(
                    ":outbox",
                    aws_sdk_dynamodb::types::AttributeValue::S(
                        infrastructure::OUTBOX_ENTITY.to_owned(),
                    ),
                )
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items() {
                let stored: infrastructure::OutboxItem = serde_dynamo::from_item(item.clone())?;
                let Some(pending) = stored.into_pending() else {
                    continue;
                };
                let mut email = pending.email;
                if let Some(secret) = email.secret.clone() {
                    let token = sealer.open(&secret.sealed, secret.context).await?;
                    email = email
                        .revealed(&String::from_utf8(token)?)
                        .context("a sealed email without its slot")?;
                }
                emails.push((email.to.as_str().to_owned(), email.text));
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        round.take_tokens(&emails)
    }

    /// `finish-login` needs each user of the round with a factor on and a password step
    /// behind it: written here as the enrolment, its confirmation and `POST /login` would
    /// (the secret sealed by the local key), untimed.
    async fn two_step_challenges(&self, round: &mut Round) -> anyhow::Result<()> {
        use application::ports::{
            LoginStore, MfaChallenge, ResetTokens, SecretContext, TotpEnrolment, TotpFactors,
            TotpStep, UserRepository,
        };
        let aws = infrastructure::Aws::from_env().await;
        let (users, sealer) = (aws.user_repository()?, aws.secret_sealer()?);
        let now = domain::Timestamp::now();
        round.mfa_tokens.clear();
        for bench_user in &round.users {
            let id = domain::UserId::parse(&bench_user.id)?;
            let user = users.find(id).await?.context("a round's user is gone")?;
            let secret = sealer
                .seal(&workload::TWO_STEP_SECRET, SecretContext::totp_secret(id))
                .await?;
            let enrolment = TotpEnrolment {
                user_id: id,
                secret,
                started_at: now,
            };
            users.start_enrolment(&enrolment).await?;
            let mut on = user.clone();
            on.set_mfa(true)?;
            // DynamoDB takes no empty string set: one code nobody holds.
            let codes = [application::ports::TokenHash::new("unused")];
            users
                .confirm(
                    &enrolment,
                    TotpStep::new(1),
                    &codes,
                    &user,
                    on,
                    &Outgoing::nothing(),
                )
                .await?;
            let issued = infrastructure::OsResetTokens
                .issue()
                .map_err(|error| anyhow::anyhow!(error))?;
            let challenge = MfaChallenge {
                hash: issued.hash,
                user_id: id,
                address: user.email().clone(),
                issued_at: now,
            };
            users.issue_challenge(&challenge).await?;
            round.mfa_tokens.push(issued.token);
        }
        Ok(())
    }

    /// Every function once through the counting proxy: DynamoDB calls per request. It also
    /// warms DynamoDB Local's JIT before anything is timed.
    async fn count_calls(&mut self, run_tag: &str) -> anyhow::Result<()> {
        let upstream: SocketAddr = self
            .settings
            .dynamodb_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .context(
                "AWS_ENDPOINT_URL_DYNAMODB must be http://<ip>:<port> for the counting proxy",
            )?;
        let calls = Calls::default();
        let proxy = proxy::start(upstream, calls.clone()).await?;
        let endpoint = format!("http://{proxy}");
        let mut round = Round::new(format!("{run_tag}-count"), self.authorization.clone());
        let count = self.settings.count_invocations.max(1);
        for function in self.settings.functions.clone() {
            eprintln!("==> counting DynamoDB calls: {function}");
            self.prepare(function, &mut round).await?;
            let (_, init_calls) = self
                .run_process(function, &mut round, 0..count, &endpoint, Some(&calls))
                .await?;
            let per_request = calls
                .take()
                .into_iter()
                .map(|(operation, total)| (operation, total as f64 / count as f64))
                .collect();
            self.results.calls.insert(function.to_owned(), per_request);
            self.results
                .init_calls
                .insert(function.to_owned(), init_calls);
        }
        Ok(())
    }

    async fn measure_floors(&mut self, round: &Round) -> anyhow::Result<()> {
        let count = self.settings.warm_invocations;
        let ids: Vec<String> = round.users.iter().map(|user| user.id.clone()).collect();
        if !ids.is_empty() {
            let times = floors::get_item(&self.dynamodb, &self.settings.table, &ids).await?;
            self.push_floor("get_item", stats::milliseconds(&times));
        }
        let tag = format!("{}-floor", round.tag);
        let times =
            floors::transact_write_items(&self.dynamodb, &self.settings.table, &tag, count).await?;
        self.push_floor("transact_write_items", stats::milliseconds(&times));
        let times = floors::user_insert(&self.dynamodb, &self.settings.table, &tag, count).await?;
        self.push_floor("user_insert", stats::milliseconds(&times));
        let times = floors::send_email(&self.ses, &self.settings.sender, count).await?;
        self.push_floor("ses_send_email", stats::milliseconds(&times));
        if let Some(authorization) = &round.authorization {
            let times = floors::verify_token(authorization, count)?;
            self.push_floor("verify_token", stats::milliseconds(&times));
        }
        let aws = infrastructure::Aws::from_env().await;
        let times = floors::kms_encrypt(&aws.secret_sealer()?, count).await?;
        self.push_floor("kms_encrypt", stats::milliseconds(&times));
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let times = floors::kms_client_build(&sdk, count);
        self.push_floor("kms_client_build", stats::milliseconds(&times));
        Ok(())
    }

    /// The samples of a ratio target: turns of `TURN` warm invocations of `function`, of the
    /// empty Lambda, of the floor's Lambda (the processes kept warm side by side) and of
    /// `function`'s floors, so all of them meet DynamoDB Local in the same state: its latency
    /// drifts by tenths of a millisecond over seconds, more than the difference the ratio
    /// looks for. The groups take turns leading (`Group`).
    async fn measure_beside_floors(
        &mut self,
        function: &'static str,
        measured_round: &Round,
    ) -> anyhow::Result<()> {
        // Its own round, so the users it registers are not among those later functions
        // expect a reset email for.
        let round = &mut Round::new(
            format!("{}-beside", measured_round.tag),
            self.authorization.clone(),
        );
        round.users = measured_round.users.clone();
        let endpoint = self.settings.dynamodb_endpoint.clone();
        let (mut measured, _) = self.start(function, &endpoint, None).await?;
        let (mut empty, _) = self.start("empty-lambda", &endpoint, None).await?;
        // The floor as a Lambda, where the bench was built with it (not in older variants).
        let floor_lambda = match function {
            "create-user" => "transact-lambda",
            _ => "get-item-lambda",
        };
        let mut floor_lambda = if self.settings.bin_dir.join(floor_lambda).exists() {
            Some(self.start(floor_lambda, &endpoint, None).await?.0)
        } else {
            None
        };
        let user_ids: Vec<String> = round.users.iter().map(|user| user.id.clone()).collect();
        // The round's users in turn, for the functions (and floors) that read one.
        let user_index = |count: usize| count % user_ids.len().max(1);
        // A create-user invocation registers a new user: its index is the next user's.
        let index_of = |round: &Round, count: usize| match function {
            "create-user" => round.users.len(),
            _ => user_index(count),
        };
        // Each process's first invocation is its cold one, as in `measure`.
        let first = index_of(round, 0);
        measured.invoke(round, first).await?;
        empty.invoke(round, 0).await?;
        if let Some(floor_lambda) = &mut floor_lambda {
            floor_lambda.invoke(round, 0).await?;
        }
        let mut series: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let groups: Vec<Group> = Group::ALL
            .into_iter()
            .filter(|group| *group != Group::FloorLambda || floor_lambda.is_some())
            .collect();
        let turns = self.settings.warm_invocations.div_ceil(TURN);
        for turn in 0..turns {
            // Each group leads as many turns as the others: whichever runs first after the
            // others pays for it (about 0.05 ms at p50 on create-user's floors, found by
            // swapping two), so a fixed order would charge it to one series only.
            let turn_start = turn * TURN;
            for group in Group::in_turn(&groups, turn) {
                match group {
                    Group::Function => {
                        let index = |round: &Round, offset| index_of(round, turn_start + offset);
                        let durations = measured.invoke_turn(round, index).await?;
                        series.entry(function).or_default().extend(durations);
                    }
                    Group::EmptyLambda => {
                        let durations = empty.invoke_turn(round, |_, _| 0).await?;
                        series.entry("empty-lambda").or_default().extend(durations);
                    }
                    Group::FloorLambda => {
                        if let Some(floor_lambda) = &mut floor_lambda {
                            let index = |_: &Round, offset| user_index(turn_start + offset);
                            let durations = floor_lambda.invoke_turn(round, index).await?;
                            let name = floor_lambda.function;
                            series.entry(name).or_default().extend(durations);
                        }
                    }
                    Group::BareFloors => {
                        let tag = format!("{}-beside-{turn}", round.tag);
                        let ids: Vec<String> = (0..TURN)
                            .filter_map(|offset| user_ids.get(user_index(turn_start + offset)))
                            .cloned()
                            .collect();
                        for (name, times) in self.bare_floors(function, &tag, &ids).await? {
                            series
                                .entry(name)
                                .or_default()
                                .extend(stats::milliseconds(&times));
                        }
                    }
                }
            }
        }
        let samples = self.results.beside.entry(function.to_owned()).or_default();
        for (name, times) in series {
            samples.entry(name.to_owned()).or_default().push(times);
        }
        Ok(())
    }

    /// One turn of `function`'s floors, from the harness: `TURN` calls each.
    async fn bare_floors(
        &self,
        function: &str,
        tag: &str,
        user_ids: &[String],
    ) -> anyhow::Result<Vec<(&'static str, Vec<Duration>)>> {
        let (client, table) = (&self.dynamodb, &self.settings.table);
        Ok(match function {
            "create-user" => vec![
                (
                    "transact_write_items",
                    floors::transact_write_items(client, table, tag, TURN).await?,
                ),
                (
                    "user_insert",
                    floors::user_insert(client, table, tag, TURN).await?,
                ),
            ],
            _ => vec![("get_item", floors::get_item(client, table, user_ids).await?)],
        })
    }

    fn push_floor(&mut self, name: &str, times: Vec<f64>) {
        self.results
            .floors
            .entry(name.to_owned())
            .or_default()
            .push(times);
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let run_tag = SystemTime::now()
            .duration_since(UNIX_EPOCH)?
            .as_secs()
            .to_string();
        std::fs::create_dir_all(self.settings.out_dir.join("logs"))?;
        for function in &self.settings.functions {
            let binary = self.settings.bin_dir.join(function);
            let zip = self.settings.zip_dir.join(format!("{function}.zip"));
            anyhow::ensure!(binary.exists(), "{} is not built", binary.display());
            self.results.sizes.insert(
                (*function).to_owned(),
                (process::file_size(&binary), process::file_size(&zip)),
            );
        }
        self.count_calls(&run_tag).await?;
        for number in 1..=self.settings.rounds {
            let mut round = Round::new(format!("{run_tag}-r{number}"), self.authorization.clone());
            for function in self.settings.functions.clone() {
                eprintln!("==> round {number}/{}: {function}", self.settings.rounds);
                self.prepare(function, &mut round).await?;
                let sample = self.measure(function, &mut round).await?;
                self.results
                    .functions
                    .entry(function.to_owned())
                    .or_default()
                    .push(sample);
                if function == "create-user"
                    || (number == 1 && !self.settings.functions.contains(&"create-user"))
                {
                    eprintln!("==> round {number}/{}: floors", self.settings.rounds);
                    self.measure_floors(&round).await?;
                }
                if BESIDE_FLOORS.contains(&function) {
                    eprintln!(
                        "==> round {number}/{}: {function} beside the empty Lambda and its floors",
                        self.settings.rounds
                    );
                    self.measure_beside_floors(function, &round).await?;
                }
            }
        }
        Ok(())
    }
}

/// Segment documents the functions sent the bench's X-Ray daemon.
static XRAY_DATAGRAMS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `BENCH_TRACED=true`: a stand-in for the X-Ray daemon (a UDP socket that reads and drops
/// every datagram), whose address every function is given, as Lambda does with active tracing.
fn xray_daemon() -> Option<String> {
    static DAEMON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    DAEMON
        .get_or_init(|| {
            if !std::env::var("BENCH_TRACED").is_ok_and(|value| value == "true") {
                return None;
            }
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
            let address = socket.local_addr().ok()?.to_string();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 65_536];
                while socket.recv(&mut buffer).is_ok() {
                    XRAY_DATAGRAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
            Some(address)
        })
        .clone()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let aws = infrastructure::Aws::from_env().await;
    let results = Results {
        settings: settings.describe(),
        ..Results::default()
    };
    let out_dir = settings.out_dir.clone();
    let dynamodb = aws.dynamodb();
    let authorization = workload::admin_authorization(&dynamodb, &settings.table).await?;
    let mut bench = Bench {
        settings,
        ms_per_tick: process::milliseconds_per_tick(),
        authorization,
        dynamodb,
        ses: aws.sesv2(),
        results,
    };
    bench.run().await?;
    let summary = bench.results.summary();
    let markdown = report::markdown(&summary);
    std::fs::write(
        out_dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    std::fs::write(out_dir.join("summary.md"), &markdown)?;
    // The table is the bench's output; progress went to stderr.
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(markdown.as_bytes())?;
    writeln!(
        stdout,
        "\nwritten: {}/summary.json and summary.md",
        out_dir.display()
    )?;
    if xray_daemon().is_some() {
        let sent = XRAY_DATAGRAMS.load(std::sync::atomic::Ordering::Relaxed);
        writeln!(
            stdout,
            "traced: the functions sent {sent} segment documents"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_leads_and_closes_a_turn_as_often_as_the_others() {
        let groups = [Group::Function, Group::EmptyLambda, Group::BareFloors];
        let orders: Vec<Vec<Group>> = (0..6)
            .map(|turn| Group::in_turn(&groups, turn).collect())
            .collect();
        for group in groups {
            let leads = orders.iter().filter(|order| order[0] == group).count();
            let closes = orders.iter().filter(|order| order[2] == group).count();
            assert_eq!((leads, closes), (2, 2));
        }
        assert!(orders.iter().all(|order| order.len() == 3));
    }
}
