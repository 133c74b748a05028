"""`mlplat serve` and `mlplat predict`."""

from __future__ import annotations

from mlplat.commands.common import add_format, add_store, positive_int, store_of


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve models over HTTP; the version follows the alias")
    p.add_argument("names", nargs="+", metavar="NAME", help="registered model name(s)")
    p.add_argument("--alias", help="alias to follow (default: serving.alias, production)")
    p.add_argument("--host", help="default: serving.host (127.0.0.1)")
    p.add_argument("--port", type=int, help="default: serving.port (8000)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="service processes behind the port, each following the alias (default: serving.workers, 1)")
    add_store(p)
    p.set_defaults(handler=cmd_serve)
    p = sub.add_parser("predict", help="score a CSV/Parquet file in chunks")
    p.add_argument("ref", help="NAME (its serving alias), NAME@alias or NAME:version")
    p.add_argument("--input", required=True, help=".csv or .parquet")
    p.add_argument("--output", required=True, help=".csv or .parquet: input columns + prediction (+ proba.<class>)")
    p.add_argument("--chunk-rows", type=positive_int, help="rows per chunk (default: serving.batch.chunk_rows)")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_predict)


def cmd_serve(args) -> int:
    from mlplat import ops

    if args.port is not None and not 0 <= args.port <= 65535:
        from mlplat.errors import ServingError

        raise ServingError(f"--port {args.port} is not a TCP port: use 0-65535")
    store = store_of(args)
    alias = args.alias
    workers = f" in {args.workers} worker processes" if args.workers and args.workers > 1 else ""
    print(f"serving {', '.join(args.names)} (following @{alias or 'serving.alias'}){workers}; Ctrl-C stops", flush=True)
    ops.serve(args.names, actor=ops.actor_from_env(), source="cli", alias=alias, host=args.host, port=args.port,
              workers=args.workers, store=store)
    return 0


def cmd_predict(args) -> int:
    from mlplat import ops

    r = ops.predict_batch(args.ref, args.input, args.output, actor=ops.actor_from_env(), source="cli",
                          chunk_rows=args.chunk_rows, store=store_of(args))
    if args.format == "json":
        from mlplat import output

        output.emit_json(r)
        return 0
    print(f"scored {r['rows']} rows with {r['model']}:{r['version']} in {r['chunks']} chunk(s) -> {r['output']}")
    return 0
