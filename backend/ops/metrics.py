"""Every metric the desk exports, declared once, next to nothing else.

Names follow the original specification. Processes (gunicorn workers, Celery children)
write to PROMETHEUS_MULTIPROC_DIR, set and wiped by whoever starts them; the web's
/api/v1/metrics aggregates them all. ``zero`` creates the label sets known in advance,
so a dashboard shows 0 rather than "No data" before the first event.
"""

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by method, endpoint and status",
    ["method", "endpoint", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by method, endpoint and status",
    ["method", "endpoint", "status"],
)

DB_QUERIES = Counter("db_queries_total", "SQL statements executed", ["operation"])
DB_QUERY_DURATION = Histogram("db_query_duration_seconds", "SQL statement latency", ["operation"])
DB_POOL_SIZE = Gauge(
    "db_connection_pool_size", "Configured connection pool size", multiprocess_mode="max"
)

REDIS_OPERATIONS = Counter("redis_operations_total", "Redis commands", ["operation", "outcome"])
REDIS_DURATION = Histogram(
    "redis_operation_duration_seconds", "Redis command latency", ["operation"]
)
CACHE_HITS = Counter("redis_cache_hits_total", "Cache reads that found a value", ["cache"])
CACHE_MISSES = Counter("redis_cache_misses_total", "Cache reads that found nothing", ["cache"])

CELERY_TASKS = Counter("celery_tasks_total", "Celery tasks finished", ["task", "state"])
CELERY_TASK_DURATION = Histogram("celery_task_duration_seconds", "Celery task run time", ["task"])
CELERY_TASKS_ACTIVE = Gauge(
    "celery_tasks_active", "Celery tasks running now", ["task"], multiprocess_mode="livesum"
)
CELERY_TASK_RETRIES = Counter("celery_task_retries_total", "Celery task retries", ["task"])

TRADES_EXECUTED = Counter(
    "trades_executed_total", "Trades that reached a final status", ["strategy", "mode", "status"]
)
TRADE_PROFIT = Histogram(
    "trade_profit_usd",
    "Realized profit per filled trade (USD)",
    ["strategy"],
    buckets=(-50, -10, -1, 0, 1, 5, 10, 25, 50, 100, 250, 1000),
)
ACTIVE_OPPORTUNITIES = Gauge(
    "active_arbitrage_opportunities",
    "Opportunities open now",
    ["strategy"],
    multiprocess_mode="mostrecent",
)
# Live P2P legs waiting for an operator, and those open past TICKET_ALERT_SECONDS.
OPERATOR_TICKETS_OPEN = Gauge(
    "operator_tickets_open",
    "Operator tickets not yet confirmed or cancelled",
    multiprocess_mode="mostrecent",
)
OPERATOR_TICKETS_OVERDUE = Gauge(
    "operator_tickets_overdue",
    "Operator tickets open longer than TICKET_ALERT_SECONDS",
    multiprocess_mode="mostrecent",
)
# The house's money as the ledger sums it, and the floor each account must not cross.
ACCOUNT_BALANCE = Gauge(
    "account_balance",
    "House account balance: the sum of its ledger postings, in the account's currency",
    ["account", "currency"],
    multiprocess_mode="mostrecent",
)
ACCOUNT_FLOOR = Gauge(
    "account_floor",
    "The balance a house account must keep (floor:<account> control), in its currency",
    ["account", "currency"],
    multiprocess_mode="mostrecent",
)
# Trades whose unwind cannot go on (books stale or thin, a venue's refusal): they hold an
# intermediate currency a trader must look at.
TRADES_STRANDED = Gauge(
    "trades_stranded",
    "Trades stopped halfway whose unwind is stranded, holding what their legs bought",
    multiprocess_mode="mostrecent",
)
PRICE_UPDATES = Counter("price_updates_total", "Books ingested", ["asset", "fiat", "source"])
# Best prices (fiat per unit) and the spread of each market's latest book, for dashboards.
MARKET_PRICE = Gauge(
    "market_best_price",
    "Best bid or ask of a market's latest book (quote currency per unit)",
    ["market", "side"],
    multiprocess_mode="mostrecent",
)
MARKET_SPREAD_BPS = Gauge(
    "market_spread_bps",
    "Best ask minus best bid over the mid, in basis points",
    ["market"],
    multiprocess_mode="mostrecent",
)
INGEST_ERRORS = Counter(
    "market_ingest_errors_total", "Failed market fetches", ["market", "source", "reason"]
)
MARKET_STALE = Gauge(
    "market_data_stale",
    "1 when a market's latest book is older than allowed",
    ["market"],
    multiprocess_mode="mostrecent",
)

# A component the desk runs without (Redis, RabbitMQ on the embedded default) is not up:
# it has no health_component_up series, and health_component_configured 0.
HEALTH_STATUS = Gauge(
    "health_component_up",
    "1 when the configured component's probe passed, 0 when it failed",
    ["component"],
    multiprocess_mode="mostrecent",
)
HEALTH_CONFIGURED = Gauge(
    "health_component_configured",
    "1 when the desk is configured to use the component",
    ["component"],
    multiprocess_mode="mostrecent",
)
QUEUE_MESSAGES = Gauge(
    "celery_queue_messages",
    "Messages in a Celery queue on the broker: ready (waiting) or unacked (being run)",
    ["queue", "state"],
    multiprocess_mode="mostrecent",
)

# Outbound calls to market data upstreams (binance_p2p, binance_spot): one label value per
# upstream; reasons are the small vocabulary of backend.market.errors.
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
    ["upstream"],
    multiprocess_mode="livemax",
)
CIRCUIT_BREAKER_FAILURES = Counter(
    "circuit_breaker_failures_total", "Calls a circuit breaker counted as failures", ["upstream"]
)
CIRCUIT_BREAKER_OPENS = Counter(
    "circuit_breaker_opens_total", "Transitions of a circuit breaker to open", ["upstream"]
)
EXTERNAL_REQUEST_DURATION = Histogram(
    "external_api_request_duration_seconds",
    "Latency of HTTP requests to external APIs",
    ["upstream"],
)
EXTERNAL_ERRORS = Counter(
    "external_api_errors_total", "Failed external API call attempts", ["upstream", "reason"]
)
EXTERNAL_RETRIES = Counter(
    "external_api_retries_total", "External API calls retried", ["upstream", "reason"]
)
BAD_REPLIES = Counter(
    "market_bad_replies_total",
    "Upstream replies (scope=reply) or single ads (scope=ad) rejected as bad",
    ["upstream", "scope", "reason"],
)


def zero(metric: Counter | Gauge | Histogram, label_sets: Iterable[dict[str, str]]) -> None:
    """Create each label set at 0. Creating the child is enough (multiprocess files start
    at 0 with no timestamp), and it never overwrites a value another process set."""
    for labels in label_sets:
        metric.labels(**labels)
