"""``referatvagt notify``: send the chat and webhook notifications that are due, or a sample."""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli_help import HasConfig, example, exit_after_sending, watchlists_in_force
from bot.publish.notify import send_due
from bot.publish.notify_render import payload, text, title
from bot.publish.notify_send import webhook_secret
from bot.publish.notify_targets import endpoint, is_webhook, named, send
from bot.publish.sample import SAMPLE, sample
from bot.run.lock import writer_lock
from bot.run.pipeline import open_store
from bot.store import utcnow


@click.command(
    "notify",
    epilog=example(
        "referatvagt notify --test 'ntfy://ntfy.sh/min-referatvagt-test'",
        "referatvagt notify --test env:REFERATVAGT_SLACK_URL",
        "referatvagt notify --test tag:redaktion",
        "referatvagt notify --retry-failed",
        note="The URL of --test is shown with its secrets masked and stored nowhere.",
    ),
)
@click.option("--test", "test_url", metavar="URL", help="Send a sample notification to URL, env:NAME or tag:NAME.")
@click.option(
    "--now", "right_now", is_flag=True, help="Send every pending match at once, ignoring schedule and backoff."
)
@click.option("--retry-failed", is_flag=True, help="Also send the notifications that used up their attempts.")
@click.pass_obj
def notify(ctx: HasConfig, test_url: str | None, right_now: bool, retry_failed: bool) -> None:
    """Build the chat and webhook notifications that are due and send them.

    Each watchlist's [deliver] notify (Apprise URLs without secrets, or tag:NAME for entries of
    the Apprise config file [notify] config) and notify_env (environment variables holding
    Apprise URLs with their secrets) get its matches: immediate ones after each cycle, daily and
    weekly ones at the digest times, which `referatvagt run` keeps. Webhooks (json://, jsons://)
    get one JSON body per match, signed when [notify] webhook_secret_env is set.
    Exit code 1 if a notification failed, 3 if only a watchlist file has an error.
    """
    config = ctx.config
    if test_url:
        for line in send_test(ctx, test_url):
            click.echo(line)
        return
    now = utcnow()
    with writer_lock(config), open_store(config) as store:
        watchlists, errors = watchlists_in_force(store, config)
        report = send_due(config, store, watchlists, now, right_now, retry_failed)
    exit_after_sending(report, errors)


def send_test(ctx: HasConfig, url: str) -> list[str]:
    """Send the sample to each target ``url`` names; nothing is stored."""
    config = ctx.config
    one = sample(datetime.now(config.bot.zone))
    done = []
    for target in named(config, url):
        server = endpoint(target)
        secret = webhook_secret(config) if is_webhook(server) else None
        heading, message = title(SAMPLE, [one]), text(config, [one])
        send(server, target.key, heading, message, [payload(SAMPLE, one)], 0, secret, lambda _: None)
        signed = " (signed)" if secret else ""
        done.append(f"sample notification sent to {target.key}{signed}")
    return done
