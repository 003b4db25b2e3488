"""`cdp ... | head`: a reader that closes the pipe early ends the command quietly."""
import subprocess
import sys


def test_closed_pipe_ends_quietly(workspace):
    # 200,000 lines are far more than a pipe buffers, so the writer meets the closed pipe.
    command = [sys.executable, "-c", "import sys; from engine.cli.main import main; sys.exit(main())",
               "--workspace", str(workspace.path), "sql", "SELECT range AS n FROM range(200000)"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.strip() == b"n"
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert proc.returncode == 141
