import type { FileEntry } from "./storage/types.ts";

/** The folder tree of the files given (already only those the caller may see), each folder titled by its index. */

export interface TreeNode {
  name: string;
  path: string;
  type: "folder" | "file";
  title?: string;
  /** The folder's index file (+index.md, +<folder>.md, index.md or README.md), when it has one. */
  index?: string;
  files?: number;
  children?: TreeNode[];
}

const INDEX_NAMES = (folder: string) => ["+index.md", `+${folder}.md`, "index.md", "readme.md"];

const folderNode = (path: string): TreeNode => ({
  name: path.slice(path.lastIndexOf("/") + 1) || "/",
  path,
  type: "folder",
  files: 0,
  children: [],
});

/** Folders down to `depth` levels below `root` (deeper files are counted, not listed). */
export function treeOf(
  root: string,
  files: readonly FileEntry[],
  titles: ReadonlyMap<string, string>,
  depth: number,
): TreeNode {
  const rootNode = folderNode(root);
  const folders = new Map<string, TreeNode>([[root, rootNode]]);
  for (const file of files) {
    const segments = (root ? file.path.slice(root.length + 1) : file.path).split("/");
    let node: TreeNode | undefined = rootNode;
    rootNode.files!++;
    let path = root;
    for (let level = 1; level < segments.length; level++) {
      path = path ? `${path}/${segments[level - 1]}` : segments[level - 1]!;
      if (level > depth) {
        node = undefined;
        break;
      }
      let child = folders.get(path);
      if (!child) {
        child = folderNode(path);
        folders.set(path, child);
        node!.children!.push(child);
      }
      child.files!++;
      node = child;
    }
    if (!node || segments.length > depth) continue;
    const name = segments[segments.length - 1]!;
    const title = titles.get(file.path);
    node.children!.push({ name, path: file.path, type: "file", ...(title ? { title } : {}) });
    if (!node.index && INDEX_NAMES(node.name).includes(name.toLowerCase())) {
      node.index = file.path;
      if (title) node.title = title;
    }
  }
  const sort = (node: TreeNode) => {
    node.children?.sort((a, b) =>
      a.type === b.type ? a.name.localeCompare(b.name) : a.type === "folder" ? -1 : 1,
    );
    node.children?.forEach(sort);
  };
  sort(rootNode);
  return rootNode;
}
