#!/usr/bin/env python3
"""gen-dataset.py OUTDIR NAMESPACE [CMS SECRETS DEPLOYMENTS HOT] - the scale data set

Writes Lists of at most 500 objects (batch-*.json) for `kubectl create -f`:
CMS ConfigMaps cm-NNNNN with 1 KiB of data each (four 256-byte values),
SECRETS Secrets sec-NNNNN with 1 KiB of data each, DEPLOYMENTS Deployments
dep-NNNN annotated reloader.stakater.com/auto: "true", replicas 0, each
referencing 1-3 of the ConfigMaps/Secrets through envFrom or mounted volumes.
ConfigMap cm-00000 (the "hot" source) is referenced by exactly the first HOT
Deployments (default 100) and by no other. Deterministic (seed 4).
"""
import json
import os
import random
import sys


def main():
    out, ns = sys.argv[1], sys.argv[2]
    n_cm, n_sec, n_dep, hot = (int(x) for x in (sys.argv[3:7] or [10000, 10000, 5000, 100]))
    rng = random.Random(4)
    alnum = 'abcdefghijklmnopqrstuvwxyz0123456789'
    label = {'engine-check': 'scale'}

    def text(n):
        return ''.join(rng.choice(alnum) for _ in range(n))

    def b64(n):
        import base64
        return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode()

    objs = []
    for i in range(n_cm):
        objs.append({'apiVersion': 'v1', 'kind': 'ConfigMap',
                     'metadata': {'name': 'cm-%05d' % i, 'namespace': ns, 'labels': label},
                     'data': {'k%d' % j: text(256) for j in range(4)}})
    for i in range(n_sec):
        objs.append({'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
                     'metadata': {'name': 'sec-%05d' % i, 'namespace': ns, 'labels': label},
                     'data': {'k%d' % j: b64(256) for j in range(4)}})
    for i in range(n_dep):
        name = 'dep-%04d' % i
        refs = []
        want = rng.randint(1, 3)
        if i < hot:
            refs.append(('configmap', 'cm-00000'))
        while len(refs) < want:
            if rng.random() < 0.5:
                ref = ('configmap', 'cm-%05d' % rng.randint(1, n_cm - 1))
            else:
                ref = ('secret', 'sec-%05d' % rng.randint(0, n_sec - 1))
            if ref not in refs:
                refs.append(ref)
        container = {'name': 'app', 'image': 'busybox'}
        volumes = []
        for j, (typ, src) in enumerate(refs):
            if rng.random() < 0.5:
                key = 'configMapRef' if typ == 'configmap' else 'secretRef'
                container.setdefault('envFrom', []).append({key: {'name': src}})
            else:
                vol = {'name': 'v%d' % j}
                if typ == 'configmap':
                    vol['configMap'] = {'name': src}
                else:
                    vol['secret'] = {'secretName': src}
                volumes.append(vol)
                container.setdefault('volumeMounts', []).append(
                    {'name': 'v%d' % j, 'mountPath': '/v/%d' % j})
        pod = {'containers': [container]}
        if volumes:
            pod['volumes'] = volumes
        objs.append({'apiVersion': 'apps/v1', 'kind': 'Deployment',
                     'metadata': {'name': name, 'namespace': ns, 'labels': label,
                                  'annotations': {'reloader.stakater.com/auto': 'true'}},
                     'spec': {'replicas': 0, 'selector': {'matchLabels': {'app': name}},
                              'template': {'metadata': {'labels': {'app': name}},
                                           'spec': pod}}})
    os.makedirs(out, exist_ok=True)
    for b in range(0, len(objs), 500):
        with open(os.path.join(out, 'batch-%03d.json' % (b // 500)), 'w') as f:
            json.dump({'apiVersion': 'v1', 'kind': 'List', 'items': objs[b:b + 500]}, f)


if __name__ == '__main__':
    main()
