"""`lookout completion SHELL`: the scripts complete in real shells (Debian's, which
`make test` installs as root; elsewhere skipped where missing, failing in CI), and they
follow the parser."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.tools import need

CASES = [  # the command line so far -> what completing its last word must offer
    ("lookout sta", {"status"}),
    ("lookout -w /tmp st", {"status"}),
    ("lookout status --j", {"--json"}),
    ("lookout completion ", {"bash", "zsh", "fish"}),
    ("lookout mod", {"model", "models"}),
    ("lookout drift --r", {"--run", "--readonly"}),
]


def script(cli, shell: str, tmp_path: Path) -> Path:
    result = cli("completion", shell)
    assert result.code == 0 and result.err == ""
    path = tmp_path / ("_lookout" if shell == "zsh" else f"lookout.{shell}")
    path.write_text(result.out)
    return path


def test_bash(cli, tmp_path: Path) -> None:
    path = script(cli, "bash", tmp_path)
    (tmp_path / "dir_a").mkdir()
    probe = f"""
source {path}
complete_line() {{
    read -ra COMP_WORDS <<< "$1"
    [[ "$1" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=()
    _lookout
    echo "${{COMPREPLY[*]}}"
}}
"""
    cases = [*CASES, (f"lookout screenshots --out {tmp_path}/dir_", {f"{tmp_path}/dir_a"})]
    for line, expected in cases:
        out = subprocess.run(
            [need("bash"), "-c", probe + f'complete_line "{line}"'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert set(out.split()) == expected, (line, out)


def test_fish(cli, tmp_path: Path) -> None:
    path = script(cli, "fish", tmp_path)
    for line, expected in CASES:
        out = subprocess.run(
            [need("fish"), "-c", f"source {path}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        offered = {row.split("\t")[0] for row in out.splitlines()}
        assert offered == expected, (line, out)


# Runs an interactive zsh on a pseudo-terminal and, for each line given after the fpath
# folder, presses tab after it and prints what the completion system offered (compadd
# wrapped to print its matches), then "END". What the terminal echoes is spelled so that
# it never matches what is read: `"HI""T:"`, `DONE-"SETUP"`.
ZSH_CAPTURE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -l -- "HI""T:"${^__hits}
  builtin compadd "$@"
}'
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' menu no"
zpty -w z 'print DONE-"SETUP"'
zpty -r z line '*DONE-SETUP*'
for typed in "${@[2,-1]}"; do
  zpty -n -w z "$typed"$'\t'
  zpty -w z $'\C-u'"print END-OF-OUTPUT"
  out=""
  while zpty -r z chunk; do out+=$chunk; [[ $out == *END-OF-OUTPUT*END-OF-OUTPUT* ]] && break; done
  print -r -- "$out" | grep -a -o 'HIT:[^[:space:]]*' | sort -u
  print END
done
zpty -d z
"""


def test_zsh(cli, tmp_path: Path) -> None:
    path = script(cli, "zsh", tmp_path)
    zsh = need("zsh")
    subprocess.run([zsh, "-n", str(path)], check=True)
    capture = tmp_path / "capture.zsh"
    capture.write_text(ZSH_CAPTURE)
    out = subprocess.run(
        [zsh, str(capture), str(tmp_path), *(line for line, _ in CASES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    answers = out.split("END\n")
    for (line, expected), answer in zip(CASES, answers, strict=False):
        offered = {hit.removeprefix("HIT:") for hit in answer.split()}
        assert offered == expected, (line, answer)
    assert len(answers) == len(CASES) + 1


def test_every_command_and_option_is_in_each_script(cli, tmp_path: Path) -> None:
    from lookout.console.cli import build_parser, subcommands

    parser = build_parser()
    for shell in ("bash", "zsh", "fish"):
        text = script(cli, shell, tmp_path).read_text()
        for name, sub in subcommands(parser).items():
            assert name in text, (shell, name)
            for action in sub._actions:
                for flag in action.option_strings:
                    bare = flag.lstrip("-") if shell == "fish" else flag
                    assert bare in text, (shell, name, flag)
