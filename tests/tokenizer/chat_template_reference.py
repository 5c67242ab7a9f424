# Reference renderer for the chat-template differential test: Python jinja2 configured as HF
# transformers' apply_chat_template renders (ImmutableSandboxedEnvironment, trim_blocks,
# lstrip_blocks, loopcontrols, a tojson without HTML escaping or ASCII-only output,
# raise_exception and strftime_now globals). Reads {"template": str, "cases": [input...]} as JSON on
# stdin; writes a JSON list with {"rendered": str} or {"error": str} per case. Exit 3 if jinja2 is
# missing (the test then skips).
import json
import sys
import types
from datetime import datetime, timezone

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    sys.exit(3)


def main():
    req = json.load(sys.stdin)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # One deviation from HF: map() yields a generator, which json.dumps rejects; llama.cpp's
        # deepseek-r1 template pipes map() into tojson, written for minja, where it is a list.
        if isinstance(x, types.GeneratorType):
            x = list(x)
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    out = []
    try:
        tmpl = env.from_string(req["template"])
    except jinja2.TemplateError as e:
        print(json.dumps([{"error": str(e)}] * len(req["cases"])))
        return
    for case in req["cases"]:
        now = case.get("now")
        env.globals["strftime_now"] = (
            lambda fmt, now=now: datetime.fromtimestamp(now, timezone.utc).strftime(fmt))
        kwargs = dict(case.get("extra", {}))
        kwargs.update(messages=case["messages"], tools=case.get("tools"),
                      add_generation_prompt=case["add_generation_prompt"],
                      bos_token=case.get("bos_token", ""), eos_token=case.get("eos_token", ""))
        try:
            out.append({"rendered": tmpl.render(**kwargs)})
        except (jinja2.TemplateError, TypeError) as e:
            out.append({"error": str(e)})
    print(json.dumps(out, ensure_ascii=False))


main()
