-- clinch.limiter's needs_clock: the client reads the clock for acquire only when the answer may
-- depend on it (a pause, a remembered ceiling, a rate); otherwise acquire given 0 must answer as it
-- would with the time.
local limiter = require "clinch.limiter"

describe("limiter.needs_clock", function()
  it("is false for a fresh budget without a rate, and acquire then needs no time", function()
    local lim = limiter.new { max = 2 }
    assert.is_false(lim:needs_clock())
    assert.same({ true, 0 }, { lim:acquire(1, 0) })
    assert.same({ true, 0 }, { lim:acquire(1, 0) })
    assert.same({ false, nil }, { lim:acquire(1, 0) }) -- the limit: until one ends
    lim:release(2)
    assert.is_false(lim:needs_clock())
  end)

  it("is true with max_rate", function()
    assert.is_true(limiter.new({ max = 2, max_rate = 5 }):needs_clock())
  end)

  it("is true from a push-back until its pause has ended and its ceiling is forgotten", function()
    local lim = limiter.new { max = 8 }
    local ok, epoch = lim:acquire(4, 0)
    assert.is_true(ok)
    lim:observe(true, 2, 100, 429, epoch)    -- a push-back at t=100: pause until 102
    lim:observe(false, nil, 0, 200, epoch)   -- and one of the burst admitted
    lim:release(4)
    assert.is_true(lim:needs_clock())
    assert.same({ false, 1 }, { lim:acquire(1, 101) }) -- still paused
    assert.is_true(lim:needs_clock())
    assert.is_true((lim:acquire(1, 102)))              -- the pause is over: the limit is what was admitted
    lim:release(1)
    assert.is_true(lim:needs_clock())                  -- the ceiling is remembered for a minute
    assert.is_true((lim:acquire(1, 163)))
    lim:release(1)
    assert.is_false(lim:needs_clock())
  end)

  it("answers the same with and without the time when it does not need the clock", function()
    local a, b = limiter.new { max = 3 }, limiter.new { max = 3 }
    for step = 1, 40 do
      local n = step % 3 + 1
      assert.is_false(a:needs_clock())
      assert.same({ a:acquire(n, 1000 + step) }, { b:acquire(n, 0) })
      a:observe(false, nil, 0, 200, 0)
      b:observe(false, nil, 0, 200, 0)
      a:release(n)
      b:release(n)
      assert.same(a:stats(1000 + step), b:stats(1000 + step))
    end
  end)

end)
