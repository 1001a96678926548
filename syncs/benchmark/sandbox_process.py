"""
The sandbox in a process of its own, driven through a pipe.

The engine and the baseline run in other processes, so the sandbox's CPU
time and memory (several hundred MB at 100,000 customers) never count
towards theirs. The parent requests the sandbox's request counters and scenario
changes with `SandboxProcess.call(command, ...)`.
"""

import logging
import multiprocessing
import random
import resource

logger = logging.getLogger(__name__)

# Seeding 100,000 customers takes several seconds; a slow machine gets more.
START_TIMEOUT_SECONDS = 300
CALL_TIMEOUT_SECONDS = 120


class SandboxProcessError(RuntimeError):
    """The sandbox process failed to start or to run a command."""


class SandboxProcess:
    """
    A SandboxServer seeded and served in a child process.

    `seed_options` go to SandboxServer (customers, contacts, overlap, agree,
    invoice_months); `rate_limits` switches the tools' published limits on.
    """

    def __init__(self, rate_limits=False, seed=0, **seed_options):
        self.rate_limits = rate_limits
        self.seed = seed
        self.seed_options = seed_options
        self.url = None
        self._connection = None
        self._process = None

    def start(self):
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        self._process = context.Process(
            target=serve,
            args=(child_end, self.rate_limits, self.seed, self.seed_options),
            name="oneprofile-bench-sandbox",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._connection = parent_end
        if not parent_end.poll(START_TIMEOUT_SECONDS):
            self.stop()
            raise SandboxProcessError(f"The sandbox process did not start within {START_TIMEOUT_SECONDS} s.")
        status, value = parent_end.recv()
        if status != "ok":
            self.stop()
            raise SandboxProcessError(f"The sandbox process failed to start: {value}")
        self.url = value
        logger.info("Benchmark sandbox (pid %s) serving on %s", self._process.pid, self.url)
        return self

    def call(self, command, **arguments):
        """Send one command to the sandbox process and return its result; raises SandboxProcessError."""
        if self._connection is None:
            raise SandboxProcessError(f"The sandbox process is not running, so it can't run {command!r}.")
        self._connection.send((command, arguments))
        if not self._connection.poll(CALL_TIMEOUT_SECONDS):
            raise SandboxProcessError(f"The sandbox process did not respond to {command!r} within {CALL_TIMEOUT_SECONDS} s.")
        status, value = self._connection.recv()
        if status != "ok":
            raise SandboxProcessError(f"The sandbox process failed on {command!r}: {value}")
        return value

    def stop(self):
        if self._process is None:
            return
        if self._connection is not None:
            try:
                self._connection.send(("stop", {}))
            except (BrokenPipeError, OSError):
                pass
            self._connection.close()
            self._connection = None
        self._process.join(timeout=30)
        if self._process.is_alive():
            logger.warning("Benchmark sandbox (pid %s) did not stop within 30 s; terminating it", self._process.pid)
            self._process.terminate()
            self._process.join(timeout=10)
        self._process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def serve(connection, rate_limits, seed, seed_options):
    """Seed and serve a sandbox, then run commands until "stop" (runs in the child process)."""
    from sandbox.server import SandboxServer
    from sandbox.stripe_objects import prerender

    try:
        server = SandboxServer(host="127.0.0.1", port=0, rate_limits=rate_limits, seed=seed, **seed_options)
        # Stripe serves list pages from its own servers; the sandbox builds
        # their JSON on the same machine as the client. Building it before
        # the clock starts keeps that cost out of both the engine's and the
        # baseline's time.
        for account in server.state.stripe_accounts.values():
            prerender(account)
        server.start()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ok", server.url))
    commands = Commands(server, seed)
    try:
        while True:
            try:
                command, arguments = connection.recv()
            except EOFError:
                return
            if command == "stop":
                return
            handler = getattr(commands, command, None)
            if handler is None:
                connection.send(("error", f"Unknown command {command!r}."))
                continue
            try:
                connection.send(("ok", handler(**arguments)))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
                connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        server.stop()


class Commands:
    """Commands the parent may send to the sandbox process."""

    def __init__(self, server, seed):
        self.server = server
        self.seed = seed

    def counters(self):
        """Return the request counters since the last reset."""
        return self.server.state.counters.snapshot()

    def reset_counters(self):
        self.server.state.counters.reset()
        for api in self.server.app.tools.values():
            for limiter in vars(api).values():
                if hasattr(limiter, "hit") and hasattr(limiter, "reset"):
                    limiter.reset()
        return True

    def peak_memory_mb(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def change_subscription_status(self, share):
        """
        Change the status of the subscription of `share` of all customers; return the changed customer ids.

        Customers are picked at random (fixed by the seed) among those with
        a subscription; active ones become past_due and the others active.
        The sandbox records the `customer.subscription.updated` event of each.
        """
        account = self.server.state.stripe_account()
        with account.lock:
            customers = sorted(customer_id for customer_id, ids in account.subscriptions_by_customer.items() if ids)
        wanted = round(len(account.customers) * share)
        if wanted > len(customers):
            raise ValueError(f"{wanted} customers should change, but only {len(customers)} have a subscription.")
        chosen = random.Random(f"bench-change:{self.seed}").sample(customers, wanted)
        for customer_id in chosen:
            subscription = account.get_subscription(account.subscriptions_by_customer[customer_id][-1])
            status = "past_due" if subscription.status == "active" else "active"
            account.update_subscription(subscription.id, status=status)
        return chosen
