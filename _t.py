import warnings; warnings.simplefilter("ignore")
import numpy as np, onnx
from onnx.backend.test.loader import load_model_tests
cs=[c for c in load_model_tests(kind="node") if c.name=="test_attention_4d_causal_fp16"]
c=cs[0]
print(onnx.helper.printable_graph(c.model.graph), c.model.opset_import)
print(type(c.data_sets), len(c.data_sets))
ins, outs = c.data_sets[0]
for a in ins: print(a.dtype, a.shape)
import dlcore.onnx as dlo
import onnxruntime as ort
got = dlo.load(c.model).run(*ins)[0]
s = ort.InferenceSession(c.model.SerializeToString(), providers=["CPUExecutionProvider"])
names=[i.name for i in c.model.graph.input]
w = s.run(None, dict(zip(names, ins)))[0]
exp = outs[0]
f = lambda a: a.astype(np.float64)
print("dl vs exp", np.abs(f(got)-f(exp)).max(), "ort vs exp", np.abs(f(w)-f(exp)).max(), "dl vs ort", np.abs(f(got)-f(w)).max())
from onnx.reference import ReferenceEvaluator
r = ReferenceEvaluator(c.model).run(None, dict(zip(names, ins)))[0]
print("ref vs exp", np.abs(f(r)-f(exp)).max())
# float64 truth
q,k,v = [f(a) for a in ins[:3]]
print(q.shape,k.shape,v.shape)
# float64 truth
L, S = 4, 6
sc = 1/np.sqrt(8)
mask = np.tril(np.ones((L,S)), 0)  # causal: top-left aligned
att = (q@np.swapaxes(k,-1,-2))*sc
att = np.where(mask>0, att, -np.inf)
att = np.exp(att-att.max(-1,keepdims=True)); att/=att.sum(-1,keepdims=True)
y = att@v
for nm, a in [("dl",got),("ort",w),("exp",exp)]:
    print(nm, "vs f64 truth: max abs", np.abs(f(a)-y).max(), " max ulps", (np.abs(f(a)-y)/np.spacing(np.abs(y).astype(np.float16)).astype(np.float64)).max())
h16 = np.float16
Q,K,V = ins[:3]
s = h16(np.sqrt(1/np.sqrt(8)))
def mm16(a,b):  # f32 accumulate, round once
    return (a.astype(np.float32)@b.astype(np.float32)).astype(h16)
qk = mm16(Q*s, np.swapaxes(K,-1,-2)*s)
bias = np.where(np.tril(np.ones((4,6)))>0, h16(0), h16(-np.inf)).astype(h16)
x = qk + bias
def sm_steps(x):
    m = x.max(-1, keepdims=True); t = np.exp(x - m); return t / t.sum(-1, keepdims=True)
def sm_f32(x):
    x = x.astype(np.float32); m = x.max(-1, keepdims=True); t = np.exp(x - m); return (t / t.sum(-1, keepdims=True)).astype(h16)
for nm, sm in [("steps", sm_steps), ("f32", sm_f32)]:
    y = mm16(sm(x), V)
    print(nm, np.abs(f(y)-f(exp)).max(), np.abs(f(y)-f(got)).max())
