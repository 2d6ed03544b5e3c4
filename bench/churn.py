"""GIL churn (#7 item 8): retires of Ps whose goroutines never block, procs=4, 5 s.

    PYTHONPATH=. python bench/churn.py LABEL   -> LABEL (retires, Ms made, threads)
"""
import time
import gort
import sys
def cpu_for(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end: pass
async def main():
    stop=[False]; done=gort.Chan(8)
    async def busy():
        while not stop[0]:
            cpu_for(0.001)
            await gort.gosched()
        await done.send(1)
    for _ in range(4): gort.go(busy)
    await gort.sleep(5.0)
    stop[0]=True
    for _ in range(4): await done.recv()
    st=gort.stats()
    return st["retakes"], st["mcreated"], st["threads"]
print(sys.argv[1], gort.run(main, procs=4))
