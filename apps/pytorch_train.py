#!/usr/bin/python3
"""The same training run as `build/train --model cnn --epochs 1` in PyTorch, for
whole-process comparisons (time, peak memory) with build/train:

    /usr/bin/python3 apps/pytorch_train.py --model cnn --epochs 1 --threads 2

Reads Fashion-MNIST from the Debian package, normalises with the training
set's mean/std, trains with SGD momentum 0.9 and lr 0.01 at batch 64 (ours:
`build/train --optimizer momentum --lr 0.01 --val-split 0`; build/train's own
default lr for momentum is 0.03), evaluates on the test set and prints one
JSON line like build/train's. Needs python3-torch.
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "fmnist_2c2d":  # DeepOBS's test problem (layers/models.cpp); PyTorch's default initialisation
        return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))


def evaluate(net, xte, yte):
    """(accuracy, mean loss) on the test set, in batches of 250."""
    net.eval()
    with torch.no_grad():
        correct, total_loss = 0, 0.0
        for i in range(0, len(xte), 250):
            z = net(xte[i:i + 250])
            total_loss += nn.functional.cross_entropy(z, yte[i:i + 250], reduction="sum").item()
            correct += (z.argmax(1) == yte[i:i + 250]).sum().item()
    return correct / len(xte), total_loss / len(xte)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="cnn", choices=["mlp", "cnn", "fmnist_2c2d"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="initialisation and shuffling")
    ap.add_argument("--test-each-epoch", action="store_true",
                    help="evaluate the test set after every epoch and print it, as build/train does "
                         "(default: once, at the end)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    xtr = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    ytr = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    yte = torch.from_numpy(read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    mean, std = xtr.mean(), xtr.std()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    net = model(args.model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    train_time, seen = 0.0, 0
    for epoch in range(args.epochs):
        net.train()
        t0 = time.time()
        for idx in torch.randperm(len(xtr)).split(args.batch_size):
            opt.zero_grad()
            loss_fn(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
            seen += len(idx)
        train_time += time.time() - t0
        if args.test_each_epoch and epoch + 1 < args.epochs:
            acc, loss = evaluate(net, xte, yte)
            print(f"epoch {epoch + 1}/{args.epochs}  test loss {loss:.4f} acc {acc:.4f}", flush=True)
    acc, loss = evaluate(net, xte, yte)
    print(json.dumps({"model": args.model, "optimizer": "sgd-momentum", "epochs": args.epochs, "seed": args.seed,
                      "batch_size": args.batch_size, "test_accuracy": acc, "test_loss": loss,
                      "train_examples_per_s": seen / train_time, "seconds": time.time() - start}))


if __name__ == "__main__":
    main()
