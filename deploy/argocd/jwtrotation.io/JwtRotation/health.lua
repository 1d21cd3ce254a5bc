-- Argo CD health check for jwtrotation.io/JwtRotation (jwt-rotation-operator).
--
-- Install it in argocd-cm as resource.customizations.health.jwtrotation.io_JwtRotation (see
-- docs/gitops.md), or contribute this folder to Argo CD's resource_customizations/.
--
--   no status yet, or status.observedGeneration behind metadata.generation  -> Progressing
--   Stalled=True, or phase Failed or Paused                                   -> Degraded
--   spec.suspend: true                                                        -> Suspended
--   Ready=True (Idle, settled)                                                -> Healthy
--   a rotation or rollback in flight, not stalled                             -> ROTATION_HEALTH
--   waiting in the rollout budget's queue (WaitingForRolloutBudget)           -> ROTATION_HEALTH
--   anything else (e.g. the Secret being created)                             -> Progressing
--
-- ROTATION_HEALTH is a deliberate choice. A rotation lasts days: monitoring.minDuration defaults
-- to 48h and maxDuration to 72h. Reported as Progressing, it would hold every later sync wave,
-- `argocd app wait --health` and PostSync hooks for that long. So a rotation that makes progress
-- is Healthy, with a message saying what it waits for; anything that needs a human is Degraded.
-- To have Argo CD wait for rotations to finish instead, set ROTATION_HEALTH = "Progressing" in
-- your copy in argocd-cm.
local ROTATION_HEALTH = "Healthy"

local hs = { status = "Progressing", message = "Waiting for the operator to report status" }
if obj.status == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed ~= generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return (c.reason or "") .. ": " .. c.message
  end
  return c.reason or ""
end

local phase = obj.status.phase or ""
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. describe(stalled)
  return hs
end
if phase == "Failed" or phase == "Paused" then
  hs.status = "Degraded"
  hs.message = phase
  return hs
end

local ready = conditions["Ready"]
if ready ~= nil and ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

-- Waiting for room in the operator's rollout budget (MAX_CONCURRENT_ROLLOUTS): progress, not trouble.
if ready ~= nil and ready.reason == "WaitingForRolloutBudget" then
  hs.status = ROTATION_HEALTH
  hs.message = describe(ready)
  return hs
end

local reconciling = conditions["Reconciling"]
local inFlight = phase == "DualKey" or phase == "Monitoring" or phase == "Completing" or phase == "RollingBack"
if inFlight and reconciling ~= nil and reconciling.status == "True" then
  hs.status = ROTATION_HEALTH
  if ready ~= nil then
    hs.message = "Rotation in progress (" .. phase .. "): " .. describe(ready)
  else
    hs.message = "Rotation in progress (" .. phase .. ")"
  end
  return hs
end

if ready ~= nil then
  hs.message = describe(ready)
end
return hs
